"""The desired state, independent of YAML: kind -> name -> canonical attributes.

The loader (`keyform.config`) builds a `DesiredState` from whatever kinds the configured provider
declares (`keyform.contract.Kind`); the planner consumes it through `resource_map`, address ->
canonical attributes, so the engine stays generic over kinds. The keyform server's typed model
(Role, User, Credential) lives with its provider, in `keyform.providers.keyform.model`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from keyform.contract import Kind
from keyform.errors import Location


def format_duration(value: timedelta) -> str:
    """Render a duration the way the desired-state format writes it (`90d`, `24h`, `30m`, `45s`)."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretPolicy:
    """How keyform manages one declared secret (see `keyform.contract.SecretSpec`)."""

    rotate_after: timedelta | None = None
    rotation_overlap: timedelta | None = None
    rotation_requested: datetime | None = None  # rotate once when the newest secret is older (`rotation_requested`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """One `moved:` entry: the resource live at `source` is the one declared at `target`."""

    source: str
    target: str
    location: Location | None = None  # where the entry is written

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


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
    # with unmanaged: report, which unmanaged resources `plan --detailed-exitcode` counts as drift:
    # none (False), all (True) or "privileged" (identities holding a sensitive grant)
    unmanaged_is_drift: bool | str = False


@dataclass(frozen=True)
class DesiredState:
    """Everything one `keyform.yaml` (with its includes) declares."""

    provider: PluginConfig
    secrets: PluginConfig = field(default_factory=lambda: PluginConfig("file", {"path": ".keyform/secrets.json"}))
    safety: Safety = field(default_factory=Safety)
    kinds: tuple[Kind, ...] = ()  # the configured provider's kinds, in its order
    declared: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)  # kind -> key -> attributes
    secret_policies: Mapping[str, SecretPolicy] = field(default_factory=dict)  # address -> its managed secret
    locations: Mapping[str, Location] = field(default_factory=dict)  # address -> where it is defined
    removed: tuple[str, ...] = ()  # addresses to stop managing without deleting them (`removed:`)
    moved: tuple[Move, ...] = ()  # renames (`moved:`): the live resource at `source` becomes `target`
    root: str = "keyform.yaml"  # path of the root file (relative paths in settings resolve beside it)

    def resources(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every declared resource as (address, canonical attributes), in a stable order."""
        yield from self.resource_map.items()

    def of(self, kind: str) -> Mapping[str, Mapping[str, Any]]:
        """The declared resources of one kind: key -> canonical attributes."""
        return self.declared.get(kind, {})

    def has_secret(self, address: str) -> bool:
        """Whether keyform manages a secret at `address` (its kind carries one and the spec says so)."""
        return address in self.secret_policies

    @cached_property
    def resource_map(self) -> dict[str, Mapping[str, Any]]:
        """Address -> canonical attributes of every declared resource (built once per state)."""
        return dict(self._build_resources())

    def _build_resources(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Kinds in the provider's order, names sorted; a singleton that sets nothing is left out."""
        for kind in self.kinds:
            entries = self.declared.get(kind.name)
            if not entries:
                continue
            if kind.singleton:
                attributes = entries.get(kind.name)
                if attributes:
                    yield kind.name, attributes
                continue
            prefix = kind.name + "/"
            for key in sorted(entries):
                yield prefix + key, entries[key]
