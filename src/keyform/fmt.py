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

import glob
import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from keyform.config.document import display_path
from keyform.errors import ConfigError, KeyformError, Location, Problem

TOP_LEVEL_ORDER = (
    "version",
    "provider",
    "secrets",
    "safety",
    "include",
    "organization",
    "roles",
    "users",
    "credentials",
)
RESOURCE_KEY_ORDER = {
    "roles": ("description", "permissions", "attributes"),
    # `roles` after `job_title`, as examples/ writes them (examples/access/people.yaml)
    "users": (
        "first_name",
        "last_name",
        "role",
        "job_title",
        "roles",
        "default_folder",
        "cognitive_access",
        "archived",
        "api_key",
    ),
    "credentials": (
        "integration",
        "enabled",
        "roles",
        "permissions",
        "attributes",
        "rotate_after",
        "rotation_overlap",
    ),
}
API_KEY_ORDER = ("enabled", "rotate_after")
LEVEL_ORDER = ("read", "write")
RESOURCE_KINDS = tuple(RESOURCE_KEY_ORDER)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class _Rule:
    """How the entries of one block mapping are ordered."""

    order: tuple[str, ...] | None  # key order (unknown keys after, as written)
    spaced: bool = False  # exactly one blank line between entries, none before the first
    by_name: bool = False  # without `order`: sorted by name when names are sorted, else as written


# --- public API --------------------------------------------------------------------------------


def format_text(text: str, *, display: str = "<string>", sort_names: bool = False) -> str:
    """The canonical form of one desired-state file's text (raises ConfigError for invalid YAML)."""
    return _format(text, display, sort_names)[0]


def format_files(paths: Iterable[Path], *, sort_names: bool = False) -> list[Formatted]:
    """Format exactly these files; every unreadable or invalid file is reported at once."""
    results: list[Formatted] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            results.append(_format_file(path, sort_names)[0])
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return results


def format_tree(root: Path, *, sort_names: bool = False) -> list[Formatted]:
    """Format `root` and, depth first in sorted order, every file its `include` globs name."""
    results: list[Formatted] = []
    problems: list[Problem] = []
    seen: set[Path] = set()

    def visit(path: Path) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        try:
            result, data = _format_file(path, sort_names)
        except ConfigError as error:
            problems.extend(error.problems)
            return
        results.append(result)
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


def _format_file(path: Path, sort_names: bool) -> tuple[Formatted, Any]:
    display = display_path(path)
    try:
        original = path.read_bytes().decode("utf-8")
    except OSError as error:
        reason = "it is a directory" if path.is_dir() else (error.strerror or str(error)).lower()
        raise ConfigError([Problem(None, f"{display}: cannot read: {reason}")]) from error
    except UnicodeDecodeError as error:
        raise ConfigError([Problem(None, f"{display}: not UTF-8 text (byte {error.start})")]) from error
    text, data = _format(original, display, sort_names)
    return Formatted(path, original, text), data


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


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never re-wrap long lines
    return yaml


def _format(text: str, display: str, sort_names: bool) -> tuple[str, Any]:
    data = _load(_yaml(), text, display)
    if not isinstance(data, CommentedMap):
        return text, data  # empty, or not a mapping: `keyform validate` explains
    reference = _comparable(_load(YAML(typ="safe", pure=True), text, display))
    result = text
    for _ in range(3):  # a round can unlock the next (e.g. `? key` becomes `key:`): stop at a fixed point
        previous, result = result, _round(result, sort_names)
        if result == previous:
            break
    try:
        same = _comparable(YAML(typ="safe", pure=True).load(result)) == reference
    except YAMLError:
        same = False
    if not same:
        raise KeyformError(f"{display}: cannot format this file without changing its meaning (please report this)")
    return result, data


def _round(text: str, sort_names: bool) -> str:
    yaml = _yaml()
    data = yaml.load(_reorder_text(text, sort_names))
    _sort_flow_collections(data, (), sort_names)
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


def _comparable(data: Any, path: tuple[str, ...] = ()) -> Any:
    """Plain data with permission levels in canonical order, for the meaning check."""
    if isinstance(data, dict):
        return {key: _comparable(value, (*path, str(key))) for key, value in data.items()}
    if _is_levels_path(path) and _is_levels(data):
        return sorted(data, key=_level_key)
    return data


def _is_levels(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _level_key(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def _sort_flow_collections(node: Any, path: tuple[str, ...], sort_names: bool) -> None:
    """Sort flow-style mappings and flow-style permission levels in place (their lines can't be moved)."""
    if isinstance(node, CommentedMap):
        if node.fa.flow_style():
            keys = list(node)
            for key in sorted(keys, key=_sort_key(_rule(path), sort_names, keys)):
                node.move_to_end(key)
        for key, value in node.items():
            _sort_flow_collections(value, (*path, str(key)), sort_names)
    elif isinstance(node, CommentedSeq) and node.fa.flow_style() and _is_levels_path(path) and _is_levels(node):
        order = sorted(range(len(node)), key=lambda index: _level_key(node[index]))
        items, comments = [node[index] for index in order], dict(node.ca.items)
        list.__setitem__(node, slice(None), items)
        node.ca.items.clear()
        node.ca.items.update({new: comments[old] for new, old in enumerate(order) if old in comments})


# --- pass 1: moving line blocks ------------------------------------------------------------------


def _rule(path: tuple[str, ...]) -> _Rule:
    """How the entries of the mapping at `path` are ordered."""
    if path == ():
        return _Rule(TOP_LEVEL_ORDER, spaced=True)
    if len(path) == 1 and path[0] in RESOURCE_KINDS:
        return _Rule(None, spaced=True, by_name=True)
    if len(path) == 2 and path[0] in RESOURCE_KINDS:
        return _Rule(RESOURCE_KEY_ORDER[path[0]])
    if len(path) == 3 and path[0] == "users" and path[2] == "api_key":
        return _Rule(API_KEY_ORDER)
    return _Rule(None)


def _sort_key(rule: _Rule, sort_names: bool, keys: list[Any]) -> Callable[[Any], tuple]:
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


def _reorder_text(text: str, sort_names: bool) -> str:
    """`text` with block-mapping entries in canonical order and comments between entries indented
    like the entry they belong to (as 2-space indentation will place it)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    root = _yaml().compose(text)
    if not isinstance(root, MappingNode):
        return text
    return "\n".join(_render(root, (), lines, 0, len(lines), sort_names)) + "\n"


def _render(
    node: MappingNode, path: tuple[str, ...], lines: list[str], start: int, stop: int, sort_names: bool
) -> list[str]:
    """Lines `start:stop`, which hold block mapping `node` at `path`, in canonical form."""
    entries = _entries(node, lines)
    is_root = path == ()
    if not entries or not all(_blank_or_comment(line) for line in _gaps(entries, lines, start, is_root)):
        return lines[start:stop]
    rule = _rule(path)
    column = 2 * len(path)  # where 2-space indentation puts this mapping's keys
    head = lines[start : entries[0].first] if is_root else []  # the file's header stays on top
    leading = [] if is_root else lines[start : entries[0].first]
    units: list[list[str]] = []  # per entry: [*leading, *body, *dangling], leading blank lines first
    for index, entry in enumerate(entries):
        if index + 1 < len(entries):
            dangling, next_leading = _split_gap(lines[entry.last + 1 : entries[index + 1].first], entries[index + 1])
        else:
            dangling, next_leading = [], []
        body = _body(entry, path, lines, sort_names)
        units.append(_indent_comments(leading, column) + body + dangling)
        leading = next_leading
    footer = lines[entries[-1].last + 1 : stop]
    while is_root and footer and not footer[-1].strip():
        footer.pop()  # no blank lines at the end of the file
    keys = [entry.key for entry in entries]
    key_of = _sort_key(rule, sort_names, keys)
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


def _body(entry: _Entry, path: tuple[str, ...], lines: list[str], sort_names: bool) -> list[str]:
    value = entry.value
    if isinstance(value, MappingNode) and not value.flow_style and value.value and value.start_mark.line > entry.first:
        nested = _render(value, (*path, str(entry.key)), lines, entry.first + 1, entry.last + 1, sort_names)
        return lines[entry.first : entry.first + 1] + nested
    if _is_levels_path((*path, str(entry.key))) and isinstance(value, SequenceNode) and not value.flow_style:
        return lines[entry.first : entry.first + 1] + _render_levels(value, lines, entry.first + 1, entry.last + 1)
    return lines[entry.first : entry.last + 1]


def _is_levels_path(path: tuple[str, ...]) -> bool:
    return len(path) == 4 and path[0] in ("roles", "credentials") and path[2] == "permissions"


def _render_levels(node: SequenceNode, lines: list[str], start: int, stop: int) -> list[str]:
    """Lines `start:stop`, which hold a block sequence of permission levels, in read, write order."""
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
        units.append((_level_key(str(item.value)), lines[previous + 1 : line + 1]))
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
    return max(end, node.start_mark.line)


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
