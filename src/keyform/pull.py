"""Accept drift back into the desired state (Terraform's refresh-only): live values of declared,
managed resources written into the files that declare them, comments and layout kept.

Each drifted resource's entry is edited in place through ruamel.yaml (as `keyform fmt` writes):
the keys whose value the live resource's exported spec (`Kind.export`) differs in are set,
nested mappings (an `api_key:` block) are merged key by key, and a key the export leaves out
that still changes the canonical form is dropped (the live value is the default). Keys the
canonical form ignores (secret policies such as `rotate_after`) stay. An entry that still would
not plan to no change is left alone and named, never half-edited.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from keyform.contract import Kind, LiveResource
from keyform.errors import KeyformError
from keyform.fmt import round_trip_yaml
from keyform.model import DesiredState


@dataclass(frozen=True, slots=True, kw_only=True)
class Pulled:
    """The files a pull rewrites (path -> (text as read, text with live values)) and what it left."""

    files: dict[Path, tuple[str, str]] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)  # resources whose entries take live values
    left: list[str] = field(default_factory=list)  # drifted, but no spec edit plans to no change


def drifted(state: DesiredState, live: Mapping[str, LiveResource]) -> list[str]:
    """Declared, live and managed addresses whose live attributes differ from the declared ones."""
    found = []
    for address, wanted in state.resource_map.items():
        resource = live.get(address)
        if (
            resource is not None
            and resource.managed
            and any(resource.attributes.get(k) != v for k, v in wanted.items())
        ):
            found.append(address)
    return found


def pull(state: DesiredState, live: Mapping[str, LiveResource], kinds: Sequence[Kind]) -> Pulled:
    """The edits that bring every drifted resource's entry to its live values."""
    by_name = {kind.name: kind for kind in kinds}
    result = Pulled()
    documents: dict[Path, tuple[str, CommentedMap]] = {}
    for address in drifted(state, live):
        location = state.locations.get(address)
        kind = by_name.get(address.partition("/")[0])
        if location is None or kind is None:
            result.left.append(address)
            continue
        path = Path(location.file)
        if path not in documents:
            documents[path] = _load(path)
        entry = _entry(documents[path][1], kind, address)
        if entry is None or not _pull_entry(entry, kind, live[address]):
            result.left.append(address)
            continue
        result.addresses.append(address)
    yaml = round_trip_yaml()
    for path, (original, data) in documents.items():
        stream = io.StringIO()
        yaml.dump(data, stream)
        if stream.getvalue() != original:
            result.files[path] = (original, stream.getvalue())
    return result


def _load(path: Path) -> tuple[str, CommentedMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KeyformError(f"{path}: cannot read: {error.strerror or error}") from None
    data = round_trip_yaml().load(text)
    if not isinstance(data, CommentedMap):
        raise KeyformError(f"{path}: not a mapping of sections")
    return text, data


def _entry(data: CommentedMap, kind: Kind, address: str) -> CommentedMap | None:
    """The mapping that declares `address` in a file's data (names as written, keyed as the kind keys)."""
    section = data.get(kind.name)
    if kind.singleton:
        return section if isinstance(section, CommentedMap) else None
    if not isinstance(section, CommentedMap):
        return None
    keyed = address.partition("/")[2]
    for name, entry in section.items():
        if kind.key(str(name)) == keyed and isinstance(entry, CommentedMap):
            return entry
    return None


def _pull_entry(entry: CommentedMap, kind: Kind, resource: LiveResource) -> bool:
    """Edit `entry` to the live values; False (entry untouched) if no edit plans to no change."""
    before = copy.deepcopy(dict(entry))
    target = dict(resource.attributes)
    _merge(entry, kind.export(target), lambda: kind.canonical(dict(entry)))
    exported = kind.export(target)
    for key in [key for key in entry if key not in exported]:
        without = {k: v for k, v in entry.items() if k != key}
        if kind.canonical(without) != kind.canonical(dict(entry)):
            del entry[key]  # it changes the canonical form, and the live value is the default
    canonical = kind.canonical(dict(entry))
    if all(canonical.get(key) == target.get(key) for key in canonical):
        return True
    entry.clear()
    entry.update(before)
    return False


def _merge(entry: CommentedMap, spec: Mapping[str, Any], canonical: Callable[[], dict[str, Any]]) -> None:
    """Set `spec`'s values in `entry`, but only those that change what it means (`canonical()`,
    of the whole resource): a list written in another order, or a default spelled out, stays."""
    for key, value in spec.items():
        current = entry.get(key, _ABSENT)
        if isinstance(value, Mapping) and isinstance(current, CommentedMap):
            _merge(current, value, canonical)
            continue
        meaning = canonical()
        entry[key] = value
        if canonical() == meaning:  # the same meaning: keep it as written
            if current is _ABSENT:
                del entry[key]
            else:
                entry[key] = current


_ABSENT = object()
