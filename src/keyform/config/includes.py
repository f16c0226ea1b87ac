"""Load the root file and every file its `include` globs name (nested includes allowed)."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from keyform.config.document import Document, display_path
from keyform.config.hints import quote
from keyform.config.yaml_loader import load_file
from keyform.errors import Problem

ROOT_CONTENT = "version: 1"
INCLUDED_CONTENT = "resource sections or include"  # what the provider's kinds are not known yet
MAX_INCLUDE_DEPTH = 32


@dataclass
class Tree:
    """The files of one desired state, root first, in include order."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    complete: bool = True  # False when a file could not be loaded or an include matched nothing
    included_content: str = INCLUDED_CONTENT  # what an included file may hold, for messages


def load_tree(root: Path, included_content: Callable[[Document], str] | None = None) -> Tree:
    """Load `root` and, depth first in sorted order, every file it includes (each file once);
    `included_content` says, from the root, what an included file may hold (the provider's kinds)."""
    tree = Tree()
    _load(root, tree, chain=(), loaded=set(), describe=included_content)
    return tree


def _load(
    path: Path,
    tree: Tree,
    *,
    chain: tuple[Path, ...],
    loaded: set[Path],
    describe: Callable[[Document], str] | None = None,
) -> None:
    is_root = not chain
    document, problems = load_file(path, display_path(path), what=ROOT_CONTENT if is_root else tree.included_content)
    tree.problems.extend(problems)
    if document is None:
        tree.complete = False
        return
    document.is_root = is_root
    tree.documents.append(document)
    if is_root and describe is not None:
        tree.included_content = describe(document)
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
            _load(match, tree, chain=chain, loaded=loaded)


def _expand(base: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` (relative to `base`; `**` matches directories recursively)."""
    joined = os.path.join(glob.escape(str(base)), pattern)
    try:
        found = glob.glob(joined, recursive=True)
    except (OSError, ValueError):
        return []
    return [Path(name) for name in sorted(found) if os.path.isfile(name)]
