"""Read one YAML file into plain data, and say where any key or value was written.

The data is built straight from libyaml's event stream (PyYAML's C parser; the pure-Python one
where libyaml is missing): no node tree, one pass, about ten times faster than composing. That
pass records only the top-level keys' positions; a second pass over the same text records every
position, and runs only when a problem needs one. The builder refuses what a desired-state file
must never contain: duplicate keys (PyYAML keeps the last one silently), non-string keys, aliases
(expansion bombs), custom tags, very deep nesting, several documents, huge files and bytes that
are not UTF-8.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import yaml

from keyform.config.document import DataPath, Document
from keyform.config.hints import quote
from keyform.config.sizes import DEFAULT_MAX_BYTES, format_size
from keyform.errors import Location, Problem

MAX_BYTES = DEFAULT_MAX_BYTES
MAX_DEPTH = 64
MAX_INT = 2**63

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = f"{_TAG}str", f"{_TAG}map", f"{_TAG}seq"
_SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
_TIMESTAMP = f"{_TAG}timestamp"  # an unquoted date stays the string it was written as
_KIND = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SKIP = object()  # the value of a key that was refused: parsed, but not kept
# A plain scalar can be read as something other than a string only if it starts with one of these
# (or is empty): most names and emails are decided without the resolver's regular expressions.
_RESOLVED_FIRST = frozenset(key for key in yaml.SafeLoader.yaml_implicit_resolvers if key)


class _Mark(Protocol):
    """A position in the YAML text: PyYAML's Mark, or libyaml's when the C parser reads."""

    line: int
    column: int


class _Refused(Exception):
    """The file cannot be read on: one problem, at a position."""

    def __init__(self, mark: _Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


def load_file(
    path: Path, display: str, *, what: str, max_bytes: int = MAX_BYTES, raise_limit: str = ""
) -> tuple[Document | None, list[Problem]]:
    """Load `path`; `what` says what the top-level mapping should hold (for the empty-file message).
    A file over `max_bytes` is refused; `raise_limit` tells how to raise the limit.

    Returns the document (None when the file cannot be used at all) and the problems found.
    """
    text, problem = _read_text(path, display, max_bytes, raise_limit)
    if problem is not None:
        return None, [problem]
    builder = _EventBuilder(display)
    try:
        root, root_mark = builder.build(events(text))
    except _Refused as refused:
        return None, [Problem(_location(display, refused.mark), refused.message)]
    except yaml.MarkedYAMLError as error:
        return None, [_yaml_problem(display, error)]
    except yaml.YAMLError as error:  # ReaderError: a character YAML does not allow
        return None, [_reader_problem(display, text, error)]
    if root is None and not builder.problems:
        return None, [Problem(Location(display, 1, 1), f"empty file: expected a mapping with {what}")]
    if not isinstance(root, dict):
        if builder.problems:  # a tagged root: already reported
            return None, builder.problems
        kind = "a list" if isinstance(root, list) else "a single value"
        message = f"expected a mapping with {what} at the top of the file, got {kind}"
        return None, [Problem(_location(display, root_mark), message)]
    document = Document(
        path=path, display=display, data=root, text=text, top=builder.top, locate=lambda: positions(text, display)
    )
    return document, builder.problems


def positions(text: str, display: str) -> tuple[dict[DataPath, Location], dict[DataPath, Location]]:
    """Where every key and value of a file that loaded is written: (keys, values) by data path."""
    builder = _EventBuilder(display, record=True)
    builder.build(events(text))
    return builder.keys, builder.values


def top_level_value(text: str, display: str, key: str) -> Any:
    """The value of one top-level key of a mapping document, built without building the rest;
    None if the key is missing or anything about the text is off (the full load reports it)."""
    builder = _EventBuilder(display)
    stream = events(text)
    try:
        for event in stream:
            if isinstance(event, yaml.MappingStartEvent):
                break
        for name in stream:
            if not isinstance(name, yaml.ScalarEvent):
                return None
            value = next(stream)
            if name.value == key:
                built = builder.value(value, stream, (), 2)
                return None if builder.problems or built is _SKIP else built
            builder.skip_value(value, stream, 1)
    except (_Refused, yaml.YAMLError, StopIteration):
        return None
    return None


def events(text: str) -> Iterator[yaml.Event]:
    """The parser's events for `text`, pulled straight from the parser (no generator in between)."""
    return iter(_LOADER(text).get_event, None)


def _too_large(display: str, size: int, max_bytes: int, raise_limit: str) -> Problem:
    how = f", or {raise_limit}" if raise_limit else ""
    return Problem(
        None,
        f"{display}: file is {size:,} bytes, over the {format_size(max_bytes)} limit for one desired-state file:"
        f" split it into files it includes{how}",
    )


def _read_text(path: Path, display: str, max_bytes: int, raise_limit: str) -> tuple[str, Problem | None]:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return "", _too_large(display, size, max_bytes, raise_limit)
        data = path.read_bytes()
    except FileNotFoundError:
        return "", Problem(None, f"{display}: cannot read: no such file")
    except IsADirectoryError:
        return "", Problem(None, f"{display}: cannot read: it is a directory")
    except OSError as error:
        return "", Problem(None, f"{display}: cannot read: {error.strerror or error}")
    if len(data) > max_bytes:
        return "", _too_large(display, len(data), max_bytes, raise_limit)
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


def _location(display: str, mark: _Mark | None) -> Location:
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


class _EventBuilder:
    """Builds plain data from parser events, collecting problems; with `record`, also where every
    key and value is written (the top-level keys' positions are always recorded)."""

    def __init__(self, display: str, *, record: bool = False):
        self.display = display
        self.record = record
        self.problems: list[Problem] = []
        self.top: dict[DataPath, Location] = {}
        self.keys: dict[DataPath, Location] = {}
        self.values: dict[DataPath, Location] = {}
        self._constructor = yaml.SafeLoader("")
        self._tags: dict[tuple[str, Any], str] = {}  # implicit tag resolution is a regex walk: once per value
        self._constructed: dict[tuple[str, str], Any] = {}  # (tag, text) -> a valid bool, number or null: built once

    def at(self, mark: _Mark | None) -> Location:
        return _location(self.display, mark)

    def build(self, events: Any) -> tuple[Any, _Mark | None]:
        """Consume the whole stream; returns the root value (None for an empty file) and where it starts."""
        events = iter(events)
        root: Any = None
        root_mark = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Refused(
                        event.start_mark,
                        "a second YAML document ('---'): put everything in one document, or use include",
                    )
                first = next(events)
                if isinstance(first, yaml.DocumentEndEvent):
                    continue
                root_mark = first.start_mark
                self.top[()] = self.at(root_mark)
                root = self.value(first, events, (), 1)
                if root is _SKIP:
                    root = None
        return root, root_mark

    def value(self, event: Any, events: Any, path: DataPath, depth: int) -> Any:
        """The value that starts with `event` (its remaining events are read from `events`)."""
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if self.record:
                self.values[path] = self.at(event.start_mark)
            return self.scalar(event)
        if kind is yaml.AliasEvent:
            raise _Refused(event.start_mark, "YAML aliases (*name) are not supported: write the value out in full")
        if depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        if self.record:
            self.values[path] = self.at(event.start_mark)
        if kind is yaml.MappingStartEvent:
            if event.tag not in (None, "!", _MAP):
                self.refuse_tag(event, event.tag)
                self.skip(events, depth)
                return _SKIP
            return self.mapping(events, path, depth)
        if kind is yaml.SequenceStartEvent:
            if event.tag not in (None, "!", _SEQ):
                self.refuse_tag(event, event.tag)
                self.skip(events, depth)
                return _SKIP
            return self.sequence(events, path, depth)
        raise _Refused(event.start_mark, "malformed YAML: unexpected event")

    def sequence(self, events: Any, path: DataPath, depth: int) -> list[Any]:
        items: list[Any] = []
        for item in events:
            if type(item) is yaml.SequenceEndEvent:
                return items
            value = self.value(item, events, (*path, len(items)) if self.record else path, depth + 1)
            items.append(None if value is _SKIP else value)
        raise _Refused(None, "malformed YAML: unexpected end of the stream")

    def mapping(self, events: Any, path: DataPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, _Mark] = {}
        record, top = self.record, depth == 1
        for event in events:
            if type(event) is yaml.MappingEndEvent:
                return result
            key = self.key(event, events, depth)
            value_event = next(events)
            if key is not None and key in first_seen:
                line = first_seen[key].line + 1
                self.problems.append(
                    Problem(
                        self.at(event.start_mark),
                        f"duplicate key {quote(key)} (first defined at line {line}): remove one",
                    )
                )
                key = None
            if key is None:
                self.skip_value(value_event, events, depth)
                continue
            first_seen[key] = event.start_mark
            if record or top:
                key_path = (*path, key)
                if top:
                    self.top[key_path] = self.at(event.start_mark)
                if record:
                    self.keys[key_path] = self.at(event.start_mark)
            value = self.value(value_event, events, (*path, key) if record else path, depth + 1)
            result[key] = None if value is _SKIP else value
        raise _Refused(None, "malformed YAML: unexpected end of the stream")

    def key(self, event: Any, events: Any, depth: int) -> str | None:
        if type(event) is yaml.ScalarEvent and event.tag is None:
            text = event.value
            if not event.implicit[0] or (text and text[0] not in _RESOLVED_FIRST):  # quoted, or plainly a string
                return text
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, "YAML aliases (*name) are not supported: write the value out in full")
        if not isinstance(event, yaml.ScalarEvent):
            self.skip_value(event, events, depth)
            self.problems.append(Problem(self.at(event.start_mark), "keys must be strings: use a plain text key"))
            return None
        tag = self.tag_of(event)
        if tag == f"{_TAG}merge":
            self.problems.append(
                Problem(self.at(event.start_mark), "merge keys (<<) are not supported: write the keys out")
            )
            return None
        if tag in (_STR, _TIMESTAMP):
            return event.value
        if tag in _SCALAR_TAGS:
            value = self.scalar(event)
            kind = _KIND.get(type(value), "a value")
            message = f"keys must be strings, but {quote(event.value, 40)} is read as {kind}: quote it"
            self.problems.append(Problem(self.at(event.start_mark), message))
            return None
        self.problems.append(Problem(self.at(event.start_mark), "keys must be strings: use a plain text key"))
        return None

    def tag_of(self, event: yaml.ScalarEvent) -> str:
        if event.tag is None or event.tag == "!":
            cache_key = (event.value, event.implicit)
            tag = self._tags.get(cache_key)
            if tag is None:
                # types-PyYAML leaves BaseResolver.resolve unannotated; it returns the tag, a str
                tag = self._tags[cache_key] = self._constructor.resolve(  # type: ignore[no-untyped-call]
                    yaml.ScalarNode, event.value, event.implicit
                )
            return tag
        return event.tag

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        if event.tag is None:
            text = event.value
            if not event.implicit[0] or (text and text[0] not in _RESOLVED_FIRST):  # quoted, or plainly a string
                return text
        tag = self.tag_of(event)
        if tag in (_STR, _TIMESTAMP):
            return event.value
        if tag not in _SCALAR_TAGS:
            self.refuse_tag(event, tag)
            return None
        known = self._constructed.get((tag, event.value), _SKIP)
        if known is not _SKIP:
            return known
        # types-PyYAML types a node's marks as PyYAML's Mark; libyaml's (CSafeLoader's events) serve as well
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
        try:
            value = self._constructor.yaml_constructors[tag](self._constructor, node)
        except (ValueError, yaml.YAMLError):
            self.problems.append(Problem(self.at(event.start_mark), "not a valid number"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(Problem(self.at(event.start_mark), "infinite or NaN numbers are not allowed"))
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
            self.problems.append(Problem(self.at(event.start_mark), "number is too large"))
            return None
        self._constructed[tag, event.value] = value
        return value

    def skip_value(self, event: Any, events: Any, depth: int) -> None:
        """Read past the value starting at `event` without keeping it (aliases are still refused)."""
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, "YAML aliases (*name) are not supported: write the value out in full")
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self.skip(events, depth + 1)

    def skip(self, events: Any, depth: int) -> None:
        """Read past the rest of a collection whose start event was already read."""
        level = 1
        for event in events:
            if isinstance(event, yaml.AliasEvent):
                raise _Refused(event.start_mark, "YAML aliases (*name) are not supported: write the value out in full")
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                level += 1
                if depth + level > MAX_DEPTH + 1:
                    raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                level -= 1
                if level == 0:
                    return

    def refuse_tag(self, event: Any, tag: str) -> None:
        message = f"unsupported YAML tag {quote(tag.replace(_TAG, '!!'))}: remove it"
        self.problems.append(Problem(self.at(event.start_mark), message))
