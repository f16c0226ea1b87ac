"""Load the root file and every file its `include` globs name (nested includes allowed).

Included files must lie under the root file's folder (symlinks resolved): a desired state
reviewed in one repository can't read files from anywhere else on the machine running it.
Whoever runs keyform, not the files it reads, can lift that with KEYFORM_ALLOW_INCLUDE_OUTSIDE=1.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from keyform.config.document import Document, display_path
from keyform.config.hints import quote
from keyform.config.sizes import DEFAULT_MAX_BYTES, ENV_NAME, parse_size
from keyform.config.yaml_loader import load_file
from keyform.errors import Problem

ROOT_CONTENT = "version: 1"
INCLUDED_CONTENT = "resource sections or include"  # what the provider's kinds are not known yet
MAX_INCLUDE_DEPTH = 32
ALLOW_OUTSIDE = "KEYFORM_ALLOW_INCLUDE_OUTSIDE"
_ROOT_RAISE = f"raise the limit (for every file) with the environment variable {ENV_NAME}, e.g. {ENV_NAME}=20MiB"
_INCLUDED_RAISE = f"raise the limit with max_file_size: 20MiB in the root file (or {ENV_NAME}=20MiB)"


@dataclass
class Tree:
    """The files of one desired state, root first, in include order."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    complete: bool = True  # False when a file could not be loaded or an include matched nothing
    included_content: str = INCLUDED_CONTENT  # what an included file may hold, for messages


@dataclass
class _Walk:
    """What every step of one load shares: the folder includes must stay under (None: anywhere),
    and how large the root file and the included files may be."""

    confined_to: Path | None
    root_max_bytes: int
    included_max_bytes: int
    describe: Callable[[Document], str] | None = None  # from the root: what an included file may hold


def load_tree(
    root: Path,
    included_content: Callable[[Document], str] | None = None,
    *,
    allow_outside: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Tree:
    """Load `root` and, depth first in sorted order, every file it includes (each file once).

    Unless `allow_outside`, an include that matches a file outside the root file's folder is an
    error at the include entry, and that file is not read. Files over `max_bytes` are refused;
    the root's `max_file_size:` can raise that for the included files. `included_content` says,
    from the root, what an included file may hold (the provider's kinds), for messages.
    """
    tree = Tree()
    walk = _Walk(None if allow_outside else root.resolve().parent, max_bytes, max_bytes, included_content)
    _load(root, tree, walk, chain=(), loaded=set())
    return tree


def _load(path: Path, tree: Tree, walk: _Walk, *, chain: tuple[Path, ...], loaded: set[Path]) -> None:
    is_root = not chain
    document, problems = load_file(
        path,
        display_path(path),
        what=ROOT_CONTENT if is_root else tree.included_content,
        max_bytes=walk.root_max_bytes if is_root else walk.included_max_bytes,
        raise_limit=_ROOT_RAISE if is_root else _INCLUDED_RAISE,
    )
    tree.problems.extend(problems)
    if document is None:
        tree.complete = False
        return
    document.is_root = is_root
    tree.documents.append(document)
    if is_root:
        walk.included_max_bytes = max(walk.root_max_bytes, _setting(document.data.get("max_file_size")))
        if walk.describe is not None:
            tree.included_content = walk.describe(document)
    resolved = path.resolve()
    loaded.add(resolved)
    patterns = document.data.get("include")
    if not isinstance(patterns, list):
        return
    chain = (*chain, resolved)
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern:
            continue  # the schema reports it
        where = ("include", index)
        matches = _expand(path.parent, pattern)
        if not matches:
            tree.problems.append(
                Problem(
                    document.value_location(where),
                    f"include {quote(pattern)} matches no files"
                    f" (patterns are relative to the folder of {document.display})",
                )
            )
            tree.complete = False
            continue
        matches = _confined(matches, walk, tree, document, index)
        for match in matches:
            target = match.resolve()
            if target in chain:
                cycle = [*chain[chain.index(target) :], target]
                names = " -> ".join(display_path(item) for item in cycle)
                tree.problems.append(Problem(document.value_location(where), f"include cycle: {names}"))
                continue
            if target in loaded:
                continue
            if len(chain) >= MAX_INCLUDE_DEPTH:
                at = document.value_location(where)
                tree.problems.append(Problem(at, f"includes nested deeper than {MAX_INCLUDE_DEPTH} files"))
                tree.complete = False
                return
            _load(match, tree, walk, chain=chain, loaded=loaded)


def _setting(value: object) -> int:
    """The root's max_file_size in bytes; 0 when absent or invalid (the schema and checks report it)."""
    if not isinstance(value, str):
        return 0
    try:
        return parse_size(value)
    except ValueError:
        return 0


def _confined(matches: list[Path], walk: _Walk, tree: Tree, document: Document, index: int) -> list[Path]:
    """The matches under the configuration's folder; one problem at the entry if any lie outside."""
    base = walk.confined_to
    if base is None:
        return matches
    inside = [match for match in matches if match.resolve().is_relative_to(base)]
    if len(inside) < len(matches):
        tree.problems.append(
            Problem(
                document.value_location(("include", index)),
                f"include {quote(document.data['include'][index])} reaches outside the configuration's folder"
                f" {base}: keep included files under it (or, if you trust where it points, run with {ALLOW_OUTSIDE}=1)",
            )
        )
        tree.complete = False
    return inside


def _expand(base: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` (relative to `base`; `**` matches directories recursively)."""
    joined = os.path.join(glob.escape(str(base)), pattern)
    try:
        found = glob.glob(joined, recursive=True)
    except (OSError, ValueError):
        return []
    return [Path(name) for name in sorted(found) if os.path.isfile(name)]
