"""The typed desired state, independent of YAML.

The loader (`keyform.config`) builds a `DesiredState`; the planner consumes it through
`DesiredState.resources()`, which yields every resource as an address and a canonical
attribute mapping, so the engine stays generic over kinds.

Roles, users, credentials and API keys are NamedTuples: as immutable as a frozen dataclass, and
built four times faster (a frozen dataclass sets each field through `object.__setattr__`), which
a state with 10,000 users and as many credentials feels on every plan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from keyform.errors import Location

ORG_ROLES = ("account_owner", "account_admin", "standard")
ACCESS_LEVELS = ("read", "write")
UNMANAGED_POLICIES = ("ignore", "report", "delete")

Permissions = Mapping[str, tuple[str, ...]]
"""Module name -> sorted subset of ("read", "write")."""
EMPTY: Permissions = MappingProxyType({})  # the default permissions: shared, so read-only


def canonical_permissions(permissions: Mapping[str, Any]) -> dict[str, list[str]]:
    """Sorted modules, each with its access levels in (read, write) order; empty ones dropped."""
    return {
        module: [level for level in ACCESS_LEVELS if level in levels]
        for module, levels in sorted(permissions.items())
        if levels
    }


def format_duration(value: timedelta) -> str:
    """Render a duration the way the desired-state format writes it (`90d`, `24h`, `30m`, `45s`)."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Role(NamedTuple):
    """A custom role: a named bundle of module permissions and employee attributes."""

    name: str
    description: str = ""
    permissions: Permissions = EMPTY
    attributes: tuple[str, ...] = ()

    def attributes_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "permissions": canonical_permissions(self.permissions),
            "attributes": sorted(self.attributes),
        }


class ApiKey(NamedTuple):
    """A user's API key (at most one active per user); a new key deactivates the old one."""

    enabled: bool = True
    rotate_after: timedelta | None = None


class User(NamedTuple):
    """A user, keyed by email (unique across the system, compared case-insensitively)."""

    email: str
    first_name: str
    last_name: str
    role: str = "standard"
    roles: tuple[str, ...] = ()
    job_title: str = ""
    default_folder: str = ""
    cognitive_access: bool = False
    archived: bool = False
    api_key: ApiKey | None = None  # None: keyform leaves any live key alone

    def attributes_dict(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
            "roles": sorted(self.roles),
            "job_title": self.job_title,
            "default_folder": self.default_folder,
            "cognitive_access": self.cognitive_access,
            "archived": self.archived,
        }
        if self.api_key is not None:
            attributes["api_key_enabled"] = self.api_key.enabled
        return attributes


class Credential(NamedTuple):
    """A named client-id/secret pair with its own permissions (any number per organisation)."""

    name: str
    integration: str = ""
    enabled: bool = True
    roles: tuple[str, ...] = ()
    permissions: Permissions = EMPTY
    attributes: tuple[str, ...] = ()
    rotate_after: timedelta | None = None
    rotation_overlap: timedelta | None = None

    def attributes_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "enabled": self.enabled,
            "roles": sorted(self.roles),
            "permissions": canonical_permissions(self.permissions),
            "attributes": sorted(self.attributes),
        }


@dataclass(frozen=True)
class Organization:
    """The singleton organisation settings; None leaves a setting unmanaged."""

    api_access: bool | None = None

    def attributes_dict(self) -> dict[str, Any]:
        return {} if self.api_access is None else {"api_access": self.api_access}


@dataclass(frozen=True)
class PluginConfig:
    """A `type` plus plain options, as written under `provider:` or `secrets:`."""

    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    location: Location | None = None


@dataclass(frozen=True)
class Safety:
    """Thresholds and invariants checked before apply."""

    max_delete_fraction: float = 0.25
    unmanaged: str = "ignore"
    protect: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesiredState:
    """Everything one `keyform.yaml` (with its includes) declares."""

    provider: PluginConfig
    secrets: PluginConfig = field(default_factory=lambda: PluginConfig("file", {"path": ".keyform/secrets.json"}))
    safety: Safety = field(default_factory=Safety)
    organization: Organization = field(default_factory=Organization)
    roles: Mapping[str, Role] = field(default_factory=dict)
    users: Mapping[str, User] = field(default_factory=dict)
    credentials: Mapping[str, Credential] = field(default_factory=dict)
    locations: Mapping[str, Location] = field(default_factory=dict)  # address -> where it is defined
    root: str = "keyform.yaml"  # path of the root file (relative paths in settings resolve beside it)

    def resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every declared resource as (address, canonical attributes), in a stable order."""
        yield from self.resource_map.items()

    def has_secret(self, address: str) -> bool:
        """Whether keyform manages a secret at `address`: a declared credential, or a user with an enabled api_key."""
        kind, _, name = address.partition("/")
        if kind == "credentials":
            return name in self.credentials
        user = self.users.get(name) if kind == "users" else None
        return user is not None and user.api_key is not None and user.api_key.enabled

    @cached_property
    def resource_map(self) -> dict[str, dict[str, Any]]:
        """Address -> canonical attributes of every declared resource (built once per state)."""
        return dict(self._build_resources())

    def _build_resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        organization = self.organization.attributes_dict()
        if organization:
            yield "organization", organization
        for name in sorted(self.roles):
            yield f"roles/{name}", self.roles[name].attributes_dict()
        for email in sorted(self.users):
            yield f"users/{email}", self.users[email].attributes_dict()
        for name in sorted(self.credentials):
            yield f"credentials/{name}", self.credentials[name].attributes_dict()
