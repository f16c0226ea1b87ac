"""Merge the root file and its included files into one document, refusing double definitions."""

from __future__ import annotations

from collections.abc import Sequence

from keyform.config.document import DataPath, Document, MergedDocument
from keyform.config.hints import printable
from keyform.contract import Kind, kind_of
from keyform.errors import Location, Problem


def address(kinds: Sequence[Kind], section: str, name: str) -> str:
    """The address of a resource: `KIND/NAME`, the name keyed as its kind says (emails lowercased)."""
    kind = kind_of(kinds, section)
    return f"{section}/{kind.key(name) if kind is not None else name}"


def merge(documents: list[Document], kinds: Sequence[Kind]) -> tuple[MergedDocument, list[Problem]]:
    """One document holding the root's settings and every file's resources (first definition
    wins); a problem for each resource or singleton defined twice."""
    sections = {kind.name for kind in kinds} | {"include", "moved"}
    root = documents[0]
    merged = MergedDocument(path=root.path, display=root.display, data={}, is_root=True, origins={(): root})
    problems: list[Problem] = []
    defined: dict[str, tuple[Document, str]] = {}  # address -> (the file that defined it, name as written)
    for document in documents:
        if not isinstance(document.data, dict):
            continue
        if document.is_root:
            for key, value in document.data.items():
                if key not in sections:
                    merged.data[key] = value
                    merged.origins[(key,)] = document
        for kind in kinds:
            if kind.singleton:
                _merge_singleton(kind.name, document, merged, defined, problems)
            else:
                _merge_section(kind, document, merged, defined, problems)
        _merge_moves(document, merged)
    return merged, problems


def _merge_moves(document: Document, merged: MergedDocument) -> None:
    """Every file's `moved:` entries, one list; each entry's position comes from its own file."""
    entries = document.data.get("moved")
    if not isinstance(entries, list):
        if "moved" in document.data and "moved" not in merged.data:  # not a list: the schema reports it
            merged.data["moved"] = entries
            merged.origins[("moved",)] = document
        return
    target = merged.data.setdefault("moved", [])
    if not isinstance(target, list):
        return
    offset = len(target)
    origin = document if offset == 0 else _Shifted(document, offset)
    merged.origins.setdefault(("moved",), document)
    for index, entry in enumerate(entries):
        target.append(entry)
        merged.origins[("moved", offset + index)] = origin


class _Shifted(Document):
    """A file's `moved:` entries as the merged list numbers them (after `offset` earlier ones)."""

    def __init__(self, base: Document, offset: int):
        super().__init__(path=base.path, display=base.display, data=base.data, is_root=base.is_root)
        self._base = base
        self._offset = offset

    def value_location(self, path: DataPath) -> Location:
        return self._base.value_location(self._local(path))

    def key_location(self, path: DataPath) -> Location:
        return self._base.key_location(self._local(path))

    def _local(self, path: DataPath) -> DataPath:
        if len(path) >= 2 and path[0] == "moved" and isinstance(path[1], int):
            return ("moved", path[1] - self._offset, *path[2:])
        return tuple(path)


def _merge_singleton(
    name: str,
    document: Document,
    merged: MergedDocument,
    defined: dict[str, tuple[Document, str]],
    problems: list[Problem],
) -> None:
    if name not in document.data:
        return
    if name in defined:
        first = defined[name][0].key_location((name,))
        at = document.key_location((name,))
        problems.append(Problem(at, f"{name} is already defined at {first}"))
        return
    defined[name] = (document, name)
    merged.data[name] = document.data[name]
    merged.origins[(name,)] = document


def _merge_section(
    kind: Kind,
    document: Document,
    merged: MergedDocument,
    defined: dict[str, tuple[Document, str]],
    problems: list[Problem],
) -> None:
    section = kind.name
    resources = document.data.get(section)
    if not isinstance(resources, dict):
        return
    target = merged.data.setdefault(section, {})
    merged.origins.setdefault((section,), document)
    for name, value in resources.items():
        where = f"{section}/{kind.key(name)}"
        if where in defined:
            first_document, first_name = defined[where]
            first = first_document.key_location((section, first_name))
            note = f" ({kind.key_note})" if first_name != name and kind.key_note else ""
            at = document.key_location((section, name))
            problems.append(Problem(at, f"{printable(where)} is already defined at {first}{note}"))
            continue
        defined[where] = (document, name)
        target[name] = value
        merged.origins[(section, name)] = document
