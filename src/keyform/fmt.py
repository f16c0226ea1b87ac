"""Canonical formatting of desired-state files, keeping every comment.

Two passes over each file:

1. Text: reorder block-mapping entries (top-level sections, resource keys, permission levels and,
   optionally, resource names) by moving whole line blocks, so each entry keeps the comment lines
   above it, its end-of-line comments and its nested content exactly as written. Comment lines
   that lead an entry are indented like it; comments indented deeper than the next entry stay
   with the one above, as written.
2. ruamel.yaml round trip: re-indent (2 spaces, sequences indented under their key) and sort the
   flow-style collections (`{...}`, `[...]`), whose entries share a line.

The result is checked to load to the same data as the input (apart from the level order), so a
formatting bug can never change what a file means.
"""

from __future__ import annotations

import difflib
import glob
import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from keyform.config.document import display_path
from keyform.contract import Kind
from keyform.errors import ConfigError, KeyformError, Location, Problem
from keyform.providers.registry import provider_class

SETTINGS_ORDER = ("version", "provider", "secrets", "safety", "include")  # then the provider's kinds
DEFAULT_PROVIDER = "keyform"  # for a file that doesn't say (`provider.type`) and has no root that does


@dataclass(frozen=True, slots=True, kw_only=True)
class Formatted:
    """One file: its text as read and in canonical form."""

    path: Path
    original: str
    text: str

    @property
    def changed(self) -> bool:
        return self.original != self.text

    @property
    def display(self) -> str:
        return display_path(self.path)

    def diff(self) -> str:
        """A unified diff from the text as read to the canonical form ("" if unchanged)."""
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            self.text.splitlines(keepends=True),
            fromfile=self.display,
            tofile=self.display,
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rule:
    """How the entries of one block mapping are ordered."""

    order: tuple[str, ...] | None = None  # key order (unknown keys after, as written)
    spaced: bool = False  # exactly one blank line between entries, none before the first
    by_name: bool = False  # without `order`: sorted by name when names are sorted, else as written


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    """The canonical order for one provider's files: settings, then its kinds, each kind's keys as
    it declares them (`Kind.key_order`, `nested_order`, `list_order`)."""

    kinds: Mapping[str, Kind]
    sort_names: bool = False

    @classmethod
    def of(cls, provider_type: str, sort_names: bool) -> _Layout:
        kinds = provider_class(provider_type).kinds
        return cls(kinds={kind.name: kind for kind in kinds}, sort_names=sort_names)

    def rule(self, path: tuple[str, ...]) -> _Rule:
        """How the entries of the mapping at `path` are ordered."""
        if path == ():
            return _Rule(order=(*SETTINGS_ORDER, *self.kinds), spaced=True)
        kind = self.kinds.get(path[0])
        if kind is None:
            return _Rule()
        depth = len(path) + 1 if kind.singleton else len(path)  # a singleton's section is its one resource
        if depth == 1:
            return _Rule(spaced=True, by_name=True)
        if depth == 2:
            return _Rule(order=kind.key_order)
        if depth == 3:
            return _Rule(order=kind.nested_order.get(path[-1]))
        return _Rule()

    def list_order(self, path: tuple[str, ...]) -> tuple[str, ...] | None:
        """The order of the strings in the list at `path` (e.g. permission levels), or None: as written."""
        kind = self.kinds.get(path[0]) if path else None
        if kind is None or kind.singleton or len(path) != 4:
            return None
        return kind.list_order.get(path[2])


# --- public API --------------------------------------------------------------------------------


def format_text(
    text: str, *, display: str = "<string>", sort_names: bool = False, provider_type: str | None = None
) -> str:
    """The canonical form of one desired-state file's text (raises ConfigError for invalid YAML), in
    the order of the provider its `provider.type` names (else `provider_type`, else the default)."""
    return _format(text, display, sort_names, provider_type)[0]


def format_files(
    paths: Iterable[Path], *, sort_names: bool = False, provider_type: str | None = None
) -> list[Formatted]:
    """Format exactly these files; every unreadable or invalid file is reported at once. A file
    without `provider.type` is ordered for `provider_type` (the project's, when the caller knows it)."""
    results: list[Formatted] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            results.append(_format_file(path, sort_names, provider_type)[0])
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return results


def format_tree(root: Path, *, sort_names: bool = False) -> list[Formatted]:
    """Format `root` and, depth first in sorted order, every file its `include` globs name, in
    the order of the provider the root names."""
    results: list[Formatted] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    provider_type: str | None = None

    def visit(path: Path) -> None:
        nonlocal provider_type
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            result, data = _format_file(path, sort_names, provider_type)
        except ConfigError as error:
            problems.extend(error.problems)
            return
        results.append(result)
        provider_type = provider_type or _provider_type(data)
        for pattern in _include_patterns(data):
            for match in _expand(path.parent, pattern):
                visit(match)

    visit(root)
    if problems:
        raise ConfigError(problems)
    return results


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` via a temporary file in the same folder (keeps the file mode)."""
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise KeyformError(f"{display_path(path)}: cannot write: {error.strerror or error}") from error


# --- files -------------------------------------------------------------------------------------


def _format_file(path: Path, sort_names: bool, provider_type: str | None) -> tuple[Formatted, Any]:
    display = display_path(path)
    try:
        original = path.read_bytes().decode("utf-8")
    except OSError as error:
        reason = "it is a directory" if path.is_dir() else (error.strerror or str(error)).lower()
        raise ConfigError([Problem(None, f"{display}: cannot read: {reason}")]) from error
    except UnicodeDecodeError as error:
        raise ConfigError([Problem(None, f"{display}: not UTF-8 text (byte {error.start})")]) from error
    text, data = _format(original, display, sort_names, provider_type)
    return Formatted(path=path, original=original, text=text), data


def _provider_type(data: Any) -> str | None:
    """The `provider.type` a file's data names, if any."""
    provider = data.get("provider") if isinstance(data, dict) else None
    kind = provider.get("type") if isinstance(provider, dict) else None
    return kind if isinstance(kind, str) else None


def _include_patterns(data: Any) -> list[str]:
    patterns = data.get("include") if isinstance(data, dict) else None
    if not isinstance(patterns, list):
        return []
    return [pattern for pattern in patterns if isinstance(pattern, str) and pattern]


def _expand(base: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` relative to `base` (`**` recursive), as keyform.config resolves includes."""
    try:
        found = glob.glob(os.path.join(glob.escape(str(base)), pattern), recursive=True)
    except (OSError, ValueError):
        return []
    return [Path(name) for name in sorted(found) if os.path.isfile(name)]


# --- both passes ---------------------------------------------------------------------------------


def round_trip_yaml() -> YAML:
    """ruamel.yaml set as `keyform fmt` writes: comments and order kept, 2-space indentation."""
    return _yaml()


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never re-wrap long lines
    return yaml


def _format(text: str, display: str, sort_names: bool, provider_type: str | None) -> tuple[str, Any]:
    data = _load(_yaml(), text, display)
    if not isinstance(data, CommentedMap):
        return text, data  # empty, or not a mapping: `keyform validate` explains
    layout = _Layout.of(_provider_type(data) or provider_type or DEFAULT_PROVIDER, sort_names)
    reference = _comparable(_load(YAML(typ="safe", pure=True), text, display), layout)
    result = text
    for _ in range(3):  # a round can unlock the next (e.g. `? key` becomes `key:`): stop at a fixed point
        previous, result = result, _round(result, layout)
        if result == previous:
            break
    try:
        same = _comparable(YAML(typ="safe", pure=True).load(result), layout) == reference
    except YAMLError:
        same = False
    if not same:
        raise KeyformError(f"{display}: cannot format this file without changing its meaning (please report this)")
    return result, data


def _round(text: str, layout: _Layout) -> str:
    yaml = _yaml()
    data = yaml.load(_reorder_text(text, layout))
    _sort_flow_collections(data, (), layout)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _load(yaml: YAML, text: str, display: str) -> Any:
    try:
        return yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(str(error.problem or error.context or "invalid YAML").split())
        location = Location(display, mark.line + 1, mark.column + 1) if mark is not None else None
        raise ConfigError([Problem(location, f"invalid YAML: {message}")]) from error
    except YAMLError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise ConfigError([Problem(None, f"{display}: invalid YAML: {first_line}")]) from error


def _comparable(data: Any, layout: _Layout, path: tuple[str, ...] = ()) -> Any:
    """Plain data with ordered lists (permission levels) in canonical order, for the meaning check."""
    if isinstance(data, dict):
        return {key: _comparable(value, layout, (*path, str(key))) for key, value in data.items()}
    order = layout.list_order(path)
    if order is not None and _is_strings(data):
        return sorted(data, key=lambda item: _item_key(order, item))
    return data


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _item_key(order: tuple[str, ...], item: str) -> int:
    return order.index(item) if item in order else len(order)


def _sort_flow_collections(node: Any, path: tuple[str, ...], layout: _Layout) -> None:
    """Sort flow-style mappings and flow-style ordered lists in place (their lines can't be moved)."""
    list_order = layout.list_order(path)
    if isinstance(node, CommentedMap):
        if node.fa.flow_style():
            keys = list(node)
            for key in sorted(keys, key=_sort_key(layout.rule(path), layout.sort_names, keys)):
                node.move_to_end(key)
        for key, value in node.items():
            _sort_flow_collections(value, (*path, str(key)), layout)
    elif isinstance(node, CommentedSeq) and node.fa.flow_style() and list_order is not None and _is_strings(node):
        order = sorted(range(len(node)), key=lambda index: _item_key(list_order, node[index]))
        items, comments = [node[index] for index in order], dict(node.ca.items)
        list.__setitem__(node, slice(None), items)
        node.ca.items.clear()
        node.ca.items.update({new: comments[old] for new, old in enumerate(order) if old in comments})


# --- pass 1: moving line blocks ------------------------------------------------------------------


def _sort_key(rule: _Rule, sort_names: bool, keys: list[Any]) -> Callable[[Any], tuple[Any, ...]]:
    position = {key: index for index, key in enumerate(keys)}
    if rule.order is not None:
        order = rule.order
        return lambda key: (order.index(key) if key in order else len(order), position[key])
    if rule.by_name and sort_names:
        return lambda key: (str(key).casefold(), str(key), position[key])
    return lambda key: (position[key],)


@dataclass
class _Entry:
    key: Any
    value: Node
    first: int  # line of the key
    last: int  # last line of the entry's content
    column: int


def _reorder_text(text: str, layout: _Layout) -> str:
    """`text` with block-mapping entries in canonical order and comments between entries indented
    like the entry they belong to (as 2-space indentation will place it)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    root = _yaml().compose(text)
    if not isinstance(root, MappingNode):
        return text
    return "\n".join(_render(root, (), lines, 0, len(lines), layout)) + "\n"


def _render(
    node: MappingNode, path: tuple[str, ...], lines: list[str], start: int, stop: int, layout: _Layout
) -> list[str]:
    """Lines `start:stop`, which hold block mapping `node` at `path`, in canonical form."""
    entries = _entries(node, lines)
    is_root = path == ()
    if not entries or not all(_blank_or_comment(line) for line in _gaps(entries, lines, start, is_root)):
        return lines[start:stop]
    rule = layout.rule(path)
    column = 2 * len(path)  # where 2-space indentation puts this mapping's keys
    head = lines[start : entries[0].first] if is_root else []  # the file's header stays on top
    leading = [] if is_root else lines[start : entries[0].first]
    units: list[list[str]] = []  # per entry: [*leading, *body, *dangling], leading blank lines first
    for index, entry in enumerate(entries):
        if index + 1 < len(entries):
            dangling, next_leading = _split_gap(lines[entry.last + 1 : entries[index + 1].first], entries[index + 1])
        else:
            dangling, next_leading = [], []
        body = _body(entry, path, lines, layout)
        units.append(_indent_comments(leading, column) + body + dangling)
        leading = next_leading
    footer = lines[entries[-1].last + 1 : stop]
    while is_root and footer and not footer[-1].strip():
        footer.pop()  # no blank lines at the end of the file
    keys = [entry.key for entry in entries]
    key_of = _sort_key(rule, layout.sort_names, keys)
    result = list(head)
    for position, index in enumerate(sorted(range(len(entries)), key=lambda index: key_of(keys[index]))):
        unit = units[index]
        if rule.spaced:
            while unit and not unit[0].strip():
                unit = unit[1:]
            if position > 0:
                unit = ["", *unit]
        result += unit
    return result + footer


def _body(entry: _Entry, path: tuple[str, ...], lines: list[str], layout: _Layout) -> list[str]:
    value = entry.value
    if isinstance(value, MappingNode) and not value.flow_style and value.value and value.start_mark.line > entry.first:
        nested = _render(value, (*path, str(entry.key)), lines, entry.first + 1, entry.last + 1, layout)
        return lines[entry.first : entry.first + 1] + nested
    order = layout.list_order((*path, str(entry.key)))
    if order is not None and isinstance(value, SequenceNode) and not value.flow_style:
        return lines[entry.first : entry.first + 1] + _render_list(value, order, lines, entry.first + 1, entry.last + 1)
    return lines[entry.first : entry.last + 1]


def _render_list(node: SequenceNode, order: tuple[str, ...], lines: list[str], start: int, stop: int) -> list[str]:
    """Lines `start:stop`, which hold a block sequence of strings (permission levels), in `order`."""
    items = node.value
    previous = start - 1
    units: list[tuple[int, list[str]]] = []
    for item in items:
        line = item.start_mark.line
        if (
            not isinstance(item, ScalarNode)
            or line <= previous
            or item.end_mark.line != line
            or lines[line][: item.start_mark.column].strip() != "-"
            or not all(_blank_or_comment(text) for text in lines[previous + 1 : line])
        ):
            return lines[start:stop]
        units.append((_item_key(order, str(item.value)), lines[previous + 1 : line + 1]))
        previous = line
    units.sort(key=lambda unit: unit[0])
    return [text for _, unit in units for text in unit] + lines[previous + 1 : stop]


def _entries(node: MappingNode, lines: list[str]) -> list[_Entry] | None:
    """The entries of a block mapping, each on lines of its own; None when that isn't so."""
    if node.flow_style:
        return None
    entries: list[_Entry] = []
    previous = -1
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or key.start_mark.line != key.end_mark.line:
            return None
        line, column = key.start_mark.line, key.start_mark.column
        if line <= previous or lines[line][:column].strip():
            return None  # shares a line with what comes before (e.g. `- key: value`)
        last = max(line, _last_line(value, line, lines))
        if value.start_mark.line < line:
            return None  # an alias: its node sits where the anchor is
        entries.append(_Entry(key.value, value, line, last, column))
        previous = last
    return entries


def _last_line(node: Node, fallback: int, lines: list[str]) -> int:
    """The last line holding content of `node` (comments and blank lines after it excluded)."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        key, value = node.value[-1]
        return max(_last_line(key, fallback, lines), _last_line(value, key.end_mark.line, lines))
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1], fallback, lines)
    if isinstance(node, ScalarNode) and node.value == "" and node.style is None:
        return fallback  # `key:` with nothing after it: the parser places the null at the next token
    end = node.end_mark.line if node.end_mark.column > 0 else node.end_mark.line - 1
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        header = lines[node.start_mark.line][node.start_mark.column :].split("#")[0]
        if "+" not in header:  # clip or strip: trailing blank lines aren't content
            while end > node.start_mark.line and not lines[end].strip():
                end -= 1
    last: int = max(end, node.start_mark.line)
    return last


def _gaps(entries: list[_Entry], lines: list[str], start: int, is_root: bool) -> list[str]:
    """The lines between entries (and, below the root, before the first): comments and blank lines."""
    gaps = [] if is_root else lines[start : entries[0].first]
    for before, after in itertools.pairwise(entries):
        gaps += lines[before.last + 1 : after.first]
    return gaps


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _split_gap(gap: list[str], following: _Entry) -> tuple[list[str], list[str]]:
    """Split the lines between two entries: comments indented deeper than the next key (and blank
    lines among them) stay with the entry above; the rest lead the next entry."""
    split = 0
    for index, line in enumerate(gap):
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) > following.column:
            split = index + 1
        else:
            break
    return gap[:split], gap[split:]


def _indent_comments(lines: list[str], column: int) -> list[str]:
    return [" " * column + line.strip() if line.strip() else "" for line in lines]
