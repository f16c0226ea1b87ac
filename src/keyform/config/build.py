"""Turn valid merged data into the typed desired state (`keyform.model`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from keyform.config.document import DataPath, Document
from keyform.config.durations import parse_duration
from keyform.config.merge import address
from keyform.contract import Kind
from keyform.errors import Location
from keyform.model import DesiredState, Move, PluginConfig, Safety, SecretPolicy

DEFAULT_SECRETS = {"type": "file", "path": ".keyform/secrets.json"}
SINK_DEFAULTS = {"vault": {"mount": "secret"}}


def build_state(
    merged: Document,
    provider: Mapping[str, Any],
    secrets: Mapping[str, Any] | None,
    root: Path,
    kinds: Sequence[Kind],
) -> DesiredState:
    """The DesiredState of `merged` (already valid), with `provider`/`secrets` options resolved."""
    data = merged.data
    secrets = dict(secrets or DEFAULT_SECRETS)
    secrets = {**SINK_DEFAULTS.get(secrets["type"], {}), **secrets}
    declared, policies, paths = build_resources(kinds, data)
    return DesiredState(
        provider=_plugin(provider, merged, "provider"),
        secrets=_plugin(secrets, merged, "secrets"),
        safety=_safety(data.get("safety", {}), kinds),
        kinds=tuple(kinds),
        declared=declared,
        secret_policies=policies,
        locations=DefinedAt(merged, paths),
        removed=tuple(_addresses(data.get("removed", []), kinds)),
        moved=_moves(merged, kinds),
        root=str(root.resolve()),
    )


def build_resources(
    kinds: Sequence[Kind], data: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, SecretPolicy], dict[str, DataPath]]:
    """Kind -> key -> canonical attributes of every resource in `data` (valid, merged), each
    managed secret's policy by address, and where each address is written."""
    declared: dict[str, dict[str, Any]] = {}
    policies: dict[str, SecretPolicy] = {}
    paths: dict[str, DataPath] = {}
    for kind in kinds:
        section = data.get(kind.name)
        if section is None:
            continue
        if kind.singleton:
            declared[kind.name] = {kind.name: kind.canonical(section)}
            paths[kind.name] = (kind.name,)
            continue
        canonical, key, entries = kind.canonical, kind.key, {}
        for name, spec in section.items():
            entries[key(name)] = canonical(spec)
        declared[kind.name] = entries
        prefix = kind.name + "/"
        for name in section:
            paths[prefix + key(name)] = (kind.name, name)
        if kind.secret is not None:
            for name, spec in section.items():
                policy = secret_policy(kind, spec)
                if policy is not None:
                    policies[prefix + key(name)] = policy
    return declared, policies, paths


_NO_POLICY = SecretPolicy()


def secret_policy(kind: Kind, spec: Mapping[str, Any]) -> SecretPolicy | None:
    """The policy of the secret `spec` declares, or None when keyform leaves its secret alone."""
    secret = kind.secret
    if secret is None:
        return None
    settings: Any = spec
    for part in secret.policy_path:
        settings = settings.get(part) if isinstance(settings, Mapping) else None
    if settings is None:
        return None if secret.optional else _NO_POLICY
    if secret.optional and settings.get("enabled", True) is False:
        return None
    rotate_after, overlap = settings.get("rotate_after"), settings.get("rotation_overlap")
    requested = settings.get("rotation_requested")
    if rotate_after is None and overlap is None and requested is None:
        return _NO_POLICY
    return SecretPolicy(
        rotate_after=_duration(rotate_after),
        rotation_overlap=_duration(overlap),
        rotation_requested=_date(requested),
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


def _addresses(entries: Sequence[str], kinds: Sequence[Kind]) -> list[str]:
    """Addresses as written -> as keyed (emails compare case-insensitively)."""
    result = []
    for entry in entries:
        section, _, name = entry.partition("/")
        result.append(address(kinds, section, name) if name else entry)
    return result


def _moves(merged: Document, kinds: Sequence[Kind]) -> tuple[Move, ...]:
    """The `moved:` entries, addresses keyed, each with where it is written."""
    entries = merged.data.get("moved", [])
    return tuple(
        Move(
            source=_addresses([entry["from"]], kinds)[0],
            target=_addresses([entry["to"]], kinds)[0],
            location=merged.value_location(("moved", index)),
        )
        for index, entry in enumerate(entries)
    )


def _safety(spec: Mapping[str, Any], kinds: Sequence[Kind]) -> Safety:
    protect = _addresses(spec.get("protect", []), kinds)
    return Safety(
        max_delete_fraction=float(spec.get("max_delete_fraction", Safety.max_delete_fraction)),
        unmanaged=spec.get("unmanaged", Safety.unmanaged),
        protect=tuple(protect),
        unmanaged_is_drift=spec.get("unmanaged_is_drift", Safety.unmanaged_is_drift),
    )


def _date(text: str | None) -> datetime | None:
    """A `YYYY-MM-DD` (the start of that day) or `YYYY-MM-DDTHH:MM[:SS]Z` (schema-checked), UTC."""
    if text is None:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).replace(tzinfo=UTC)


def _duration(text: str | None) -> timedelta | None:
    return None if text is None else parse_duration(text)
