"""Read one YAML file into plain data, recording the position of every key and value.

PyYAML's safe composer builds the node tree; this module turns nodes into data itself so it can
refuse what a desired-state file must never contain: duplicate keys (PyYAML keeps the last one
silently), non-string keys, aliases (expansion bombs), custom tags, very deep nesting, several
documents, huge files and bytes that are not UTF-8.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from keyform.config.document import DataPath, Document
from keyform.config.hints import quote
from keyform.errors import Location, Problem

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_INT = 2**63

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = f"{_TAG}timestamp"  # an unquoted date stays the string it was written as
_KIND = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


class _Refused(Exception):
    """The file cannot be read on: one problem, at a position."""

    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(yaml.SafeLoader):
    """The safe loader's composer, refusing aliases and nesting deeper than MAX_DEPTH."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(
                self.peek_event().start_mark,
                "YAML aliases (*name) are not supported: write the value out in full",
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_file(path: Path, display: str, *, what: str) -> tuple[Document | None, list[Problem]]:
    """Load `path`; `what` says what the top-level mapping should hold (for the empty-file message).

    Returns the document (None when the file cannot be used at all) and the problems found.
    """
    text, problem = _read_text(path, display)
    if problem is not None:
        return None, [problem]
    loader = None
    try:
        loader = _Loader(text)
        node = _compose_single(loader)
    except _Refused as refused:
        return None, [Problem(_location(display, refused.mark), refused.message)]
    except yaml.MarkedYAMLError as error:
        return None, [_yaml_problem(display, error)]
    except yaml.YAMLError as error:  # ReaderError: a character YAML does not allow
        return None, [_reader_problem(display, text, error)]
    except RecursionError:
        return None, [Problem(Location(display, 1, 1), f"nested deeper than {MAX_DEPTH} levels")]
    finally:
        if loader is not None:
            loader.dispose()
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == f"{_TAG}null"):
        return None, [Problem(Location(display, 1, 1), f"empty file: expected a mapping with {what}")]
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        return None, [
            Problem(
                _location(display, node.start_mark),
                f"expected a mapping with {what} at the top of the file, got {kind}",
            )
        ]
    document = Document(path=path, display=display)
    problems: list[Problem] = []
    document.data = _Builder(document, _Loader(""), problems).build(node, ())
    if not isinstance(document.data, dict):  # a tagged root mapping: already reported
        return None, problems
    return document, problems


def _read_text(path: Path, display: str) -> tuple[str, Problem | None]:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return "", Problem(None, f"{display}: file is larger than 5 MiB ({size} bytes)")
        data = path.read_bytes()
    except FileNotFoundError:
        return "", Problem(None, f"{display}: cannot read: no such file")
    except IsADirectoryError:
        return "", Problem(None, f"{display}: cannot read: it is a directory")
    except OSError as error:
        return "", Problem(None, f"{display}: cannot read: {error.strerror or error}")
    if len(data) > MAX_BYTES:
        return "", Problem(None, f"{display}: file is larger than 5 MiB ({len(data)} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        return "", Problem(
            Location(display, line, column),
            f"not valid UTF-8 (byte 0x{data[error.start]:02x}): save the file as UTF-8",
        )
    return text.removeprefix("\ufeff"), None


def _compose_single(loader: _Loader) -> yaml.Node | None:
    loader.get_event()  # StreamStartEvent
    node = None
    if not loader.check_event(yaml.StreamEndEvent):
        node = loader.compose_document()
    if not loader.check_event(yaml.StreamEndEvent):
        raise _Refused(
            loader.peek_event().start_mark,
            "a second YAML document ('---'): put everything in one document, or use include",
        )
    return node


def _location(display: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(display, 1, 1)
    return Location(display, mark.line + 1, mark.column + 1)


def _yaml_problem(display: str, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    reason = error.problem or error.context or "malformed YAML"
    if error.context and error.problem:
        reason = f"{error.problem} ({error.context})"
    return Problem(_location(display, mark), f"malformed YAML: {reason}")


def _reader_problem(display: str, text: str, error: yaml.YAMLError) -> Problem:
    position = getattr(error, "position", 0) or 0
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    character = getattr(error, "character", None)
    if isinstance(character, str):
        character = ord(character[:1] or "\0")
    what = f"character U+{character:04X}" if isinstance(character, int) else "a character"
    return Problem(
        Location(display, line, column),
        f"malformed YAML: {what} is not allowed in a YAML file (remove it)",
    )


class _Builder:
    """Turn composed nodes into plain data, recording positions and collecting problems."""

    def __init__(self, document: Document, loader: _Loader, problems: list[Problem]):
        self.document = document
        self.loader = loader
        self.problems = problems

    def at(self, node: yaml.Node) -> Location:
        return _location(self.document.display, node.start_mark)

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self.document.values[path] = self.at(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != f"{_TAG}map":
                return self.refuse_tag(node)
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != f"{_TAG}seq":
                return self.refuse_tag(node)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.scalar(node)

    def mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            key_at = self.at(key_node)
            key = self.key(key_node)
            if key is None:
                continue
            if key in first_seen:
                self.problems.append(
                    Problem(
                        key_at,
                        f"duplicate key {quote(key)} (first defined at line {first_seen[key].line}): remove one",
                    )
                )
                continue
            first_seen[key] = key_at
            self.document.keys[(*path, key)] = key_at
            result[key] = self.build(value_node, (*path, key))
        return result

    def key(self, node: yaml.Node) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == f"{_TAG}merge":
            self.problems.append(Problem(self.at(node), "merge keys (<<) are not supported: write the keys out"))
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag in (f"{_TAG}str", _TIMESTAMP):
            return str(node.value)
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            value = self.scalar(node)
            kind = _KIND.get(type(value), "a value")
            self.problems.append(
                Problem(
                    self.at(node),
                    f"keys must be strings, but {quote(node.value, 40)} is read as {kind}: quote it",
                )
            )
            return None
        self.problems.append(Problem(self.at(node), "keys must be strings: use a plain text key"))
        return None

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _TIMESTAMP:
            return str(node.value)
        if node.tag not in _SCALAR_TAGS:
            return self.refuse_tag(node)
        try:
            value = self.loader.construct_object(node)
        except (ValueError, yaml.YAMLError):
            self.problems.append(Problem(self.at(node), "not a valid number"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(Problem(self.at(node), "infinite or NaN numbers are not allowed"))
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
            self.problems.append(Problem(self.at(node), "number is too large"))
            return None
        return value

    def refuse_tag(self, node: yaml.Node) -> None:
        self.problems.append(
            Problem(self.at(node), f"unsupported YAML tag {quote(node.tag.replace(_TAG, '!!'))}: remove it")
        )
        return None
