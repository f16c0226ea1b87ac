"""The keyform server's resources as typed values (tests and benchmarks build states from them).

The engine never sees these: a desired state holds canonical attributes (see kinds.py); `spec()`
gives the YAML spec a value would be written as, `attributes_dict()` its canonical attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from keyform.model import format_duration
from keyform.providers.keyform.kinds import canonical_permissions

Permissions = Mapping[str, tuple[str, ...]]
"""Module name -> sorted subset of ("read", "write")."""
EMPTY: Permissions = MappingProxyType({})  # the default permissions: shared, so read-only


class Role(NamedTuple):
    """A custom role: a named bundle of module permissions and employee attributes."""

    name: str
    description: str = ""
    permissions: Permissions = EMPTY
    attributes: tuple[str, ...] = ()

    def spec(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "permissions": {module: list(levels) for module, levels in self.permissions.items()},
            "attributes": list(self.attributes),
        }

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

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
            "roles": list(self.roles),
            "job_title": self.job_title,
            "default_folder": self.default_folder,
            "cognitive_access": self.cognitive_access,
            "archived": self.archived,
        }
        if self.api_key is not None:
            spec["api_key"] = _without_none(
                {"enabled": self.api_key.enabled, "rotate_after": _duration(self.api_key.rotate_after)}
            )
        return spec

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

    def spec(self) -> dict[str, Any]:
        return _without_none(
            {
                "integration": self.integration,
                "enabled": self.enabled,
                "roles": list(self.roles),
                "permissions": {module: list(levels) for module, levels in self.permissions.items()},
                "attributes": list(self.attributes),
                "rotate_after": _duration(self.rotate_after),
                "rotation_overlap": _duration(self.rotation_overlap),
            }
        )

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

    def spec(self) -> dict[str, Any]:
        return self.attributes_dict()

    def attributes_dict(self) -> dict[str, Any]:
        return {} if self.api_access is None else {"api_access": self.api_access}


def _duration(value: timedelta | None) -> str | None:
    return None if value is None else format_duration(value)


def _without_none(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if value is not None}
