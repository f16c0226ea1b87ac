"""Adding one resource to a desired-state file, keeping its comments, order and layout.

The file is read and written with ruamel.yaml as `keyform fmt` writes it; the entry goes at the
end of its kind's section (a section is added at the end of the file when there is none). The
result is checked to load to the same data plus the new entry before it replaces the file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from keyform.config.document import display_path
from keyform.contract import Kind
from keyform.errors import KeyformError
from keyform.fmt import round_trip_yaml


class EditError(KeyformError):
    """A desired-state file can't take the entry (not a mapping, declared already, unreadable)."""


def added(path: Path, kind: Kind, name: str, spec: Mapping[str, Any]) -> str:
    """The text of `path` with `name` (a singleton: the section itself) added under `kind`'s section."""
    display = display_path(path)
    try:
        original = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EditError(f"{display}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    yaml = round_trip_yaml()
    try:
        data = yaml.load(original) if original.strip() else CommentedMap()
    except YAMLError as error:
        raise EditError(f"{display}: invalid YAML ({' '.join(str(error).split())[:120]}): fix it first") from None
    if not isinstance(data, CommentedMap):
        raise EditError(f"{display}: not a mapping of sections: give a desired-state file")
    _insert(data, kind, name, spec, display)
    stream = io.StringIO()
    yaml.dump(data, stream)
    text = stream.getvalue()
    _check(original, text, kind, name, spec, display)
    return text


def moved_added(path: Path, source: str, target: str) -> str:
    """The text of `path` (a desired-state file) with `{from: source, to: target}` appended to `moved:`."""
    display = display_path(path)
    yaml = round_trip_yaml()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as error:
        raise EditError(f"{display}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    if not isinstance(data, CommentedMap):
        raise EditError(f"{display}: not a mapping of sections: give a desired-state file")
    moved = data.get("moved")
    if moved is None:
        moved = data["moved"] = CommentedSeq()
        data.yaml_set_comment_before_after_key("moved", before="\n")
    if not isinstance(moved, CommentedSeq):
        raise EditError(f"{display}: moved is not a list: fix it first")
    moved.append(CommentedMap([("from", source), ("to", target)]))
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _insert(data: CommentedMap, kind: Kind, name: str, spec: Mapping[str, Any], display: str) -> None:
    section = data.get(kind.name)
    if kind.singleton:
        if section:
            raise EditError(f"{display}: already sets {kind.name}: edit it there")
        data[kind.name] = dict(spec)
        return
    if section is None:
        section = data[kind.name] = CommentedMap()
    if not isinstance(section, CommentedMap):
        raise EditError(f"{display}: {kind.name} is not a mapping of names: fix it first")
    if name in section:
        raise EditError(f"{display}: already declares {kind.name}/{name}")
    if len(section):
        data_entry = CommentedMap(spec)
        section[name] = data_entry
        section.yaml_set_comment_before_after_key(name, before="\n", indent=2)  # a blank line, as fmt spaces entries
    else:
        section[name] = CommentedMap(spec)


def _check(original: str, text: str, kind: Kind, name: str, spec: Mapping[str, Any], display: str) -> None:
    """The written text means the original plus the entry, nothing else."""
    safe = YAML(typ="safe", pure=True)
    expected = safe.load(original) or {}
    if kind.singleton:
        expected[kind.name] = dict(spec)
    else:
        expected[kind.name] = {**(expected.get(kind.name) or {}), name: dict(spec)}
    if safe.load(text) != expected:
        raise EditError(f"{display}: cannot add {kind.name}/{name} without changing the rest (please report this)")
