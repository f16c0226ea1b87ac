"""Turn valid merged data into the typed desired state (`keyform.model`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from keyform.config.document import DataPath, Document
from keyform.config.durations import parse_duration
from keyform.config.merge import address
from keyform.errors import Location
from keyform.model import (
    ACCESS_LEVELS,
    ApiKey,
    Credential,
    DesiredState,
    Organization,
    PluginConfig,
    Role,
    Safety,
    User,
)

DEFAULT_SECRETS = {"type": "file", "path": ".keyform/secrets.json"}
SINK_DEFAULTS = {"vault": {"mount": "secret"}}


def build_state(
    merged: Document,
    provider: Mapping[str, Any],
    secrets: Mapping[str, Any] | None,
    root: Path,
) -> DesiredState:
    """The DesiredState of `merged` (already valid), with `provider`/`secrets` options resolved."""
    data = merged.data
    secrets = dict(secrets or DEFAULT_SECRETS)
    secrets = {**SINK_DEFAULTS.get(secrets["type"], {}), **secrets}
    paths: dict[str, DataPath] = {"organization": ("organization",)} if "organization" in data else {}
    for section in ("roles", "users", "credentials"):
        for name in data.get(section, {}):
            paths[address(section, name)] = (section, name)
    return DesiredState(
        provider=_plugin(provider, merged, "provider"),
        secrets=_plugin(secrets, merged, "secrets"),
        safety=_safety(data.get("safety", {})),
        organization=Organization(api_access=data.get("organization", {}).get("api_access")),
        roles={name: _role(name, spec) for name, spec in data.get("roles", {}).items()},
        users={email.lower(): _user(email, spec) for email, spec in data.get("users", {}).items()},
        credentials={name: _credential(name, spec) for name, spec in data.get("credentials", {}).items()},
        locations=DefinedAt(merged, paths),
        root=str(root.resolve()),
    )


class DefinedAt(Mapping[str, Location]):
    """Address -> where the resource is defined, looked up when asked (positions cost a second parse)."""

    def __init__(self, merged: Document, paths: dict[str, DataPath]):
        self._merged = merged
        self._paths = paths

    def __getitem__(self, address: str) -> Location:
        return self._merged.key_location(self._paths[address])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def _plugin(options: Mapping[str, Any], merged: Document, section: str) -> PluginConfig:
    location = merged.key_location((section,)) if section in merged.data else None
    rest = {key: value for key, value in options.items() if key != "type"}
    return PluginConfig(type=options["type"], options=rest, location=location)


def _safety(spec: Mapping[str, Any]) -> Safety:
    protect = []
    for entry in spec.get("protect", []):
        section, _, name = entry.partition("/")
        protect.append(address(section, name) if name else entry)
    return Safety(
        max_delete_fraction=float(spec.get("max_delete_fraction", Safety.max_delete_fraction)),
        unmanaged=spec.get("unmanaged", Safety.unmanaged),
        protect=tuple(protect),
    )


def _permissions(spec: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {module: tuple(level for level in ACCESS_LEVELS if level in levels) for module, levels in spec.items()}


def _duration(text: str | None):
    return None if text is None else parse_duration(text)


def _role(name: str, spec: Mapping[str, Any]) -> Role:
    return Role(
        name=name,
        description=spec.get("description", ""),
        permissions=_permissions(spec.get("permissions", {})),
        attributes=tuple(spec.get("attributes", ())),
    )


def _user(email: str, spec: Mapping[str, Any]) -> User:
    api_key = spec.get("api_key")
    return User(
        email=email,
        first_name=spec["first_name"],
        last_name=spec["last_name"],
        role=spec.get("role", "standard"),
        roles=tuple(spec.get("roles", ())),
        job_title=spec.get("job_title", ""),
        default_folder=spec.get("default_folder", ""),
        cognitive_access=spec.get("cognitive_access", False),
        archived=spec.get("archived", False),
        api_key=None
        if api_key is None
        else ApiKey(
            enabled=api_key.get("enabled", True),
            rotate_after=_duration(api_key.get("rotate_after")),
        ),
    )


def _credential(name: str, spec: Mapping[str, Any]) -> Credential:
    return Credential(
        name=name,
        integration=spec.get("integration", ""),
        enabled=spec.get("enabled", True),
        roles=tuple(spec.get("roles", ())),
        permissions=_permissions(spec.get("permissions", {})),
        attributes=tuple(spec.get("attributes", ())),
        rotate_after=_duration(spec.get("rotate_after")),
        rotation_overlap=_duration(spec.get("rotation_overlap")),
    )
