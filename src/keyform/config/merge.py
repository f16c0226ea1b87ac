"""Merge the root file and its included files into one document, refusing double definitions."""

from __future__ import annotations

from keyform.config.document import DataPath, Document
from keyform.config.hints import printable
from keyform.errors import Location, Problem

RESOURCE_SECTIONS = ("roles", "users", "credentials")
MERGED_SECTIONS = (*RESOURCE_SECTIONS, "organization", "include")


def address(section: str, name: str) -> str:
    """The address of a resource: `roles/NAME`, `users/EMAIL` (lowercased), `credentials/NAME`."""
    return f"{section}/{name.lower() if section == 'users' else name}"


def merge(documents: list[Document]) -> tuple[Document, list[Problem]]:
    """One document holding the root's settings and every file's resources (first definition
    wins); a problem for each resource or `organization` defined twice."""
    root = documents[0]
    merged = Document(path=root.path, display=root.display, data={}, is_root=True)
    merged.values[()] = root.start()
    problems: list[Problem] = []
    defined: dict[str, tuple[Location, str]] = {}  # address -> (where, name as written)
    for document in documents:
        if not isinstance(document.data, dict):
            continue
        accepted: set[DataPath] = set()
        if document.is_root:
            for key, value in document.data.items():
                if key not in MERGED_SECTIONS:
                    merged.data[key] = value
                    accepted.add((key,))
        if "organization" in document.data:
            at = document.key_location(("organization",))
            if "organization" in defined:
                first = defined["organization"][0]
                problems.append(Problem(at, f"organization is already defined at {first}"))
            else:
                defined["organization"] = (at, "organization")
                merged.data["organization"] = document.data["organization"]
                accepted.add(("organization",))
        for section in RESOURCE_SECTIONS:
            resources = document.data.get(section)
            if not isinstance(resources, dict):
                continue
            target = merged.data.setdefault(section, {})
            merged.keys.setdefault((section,), document.key_location((section,)))
            merged.values.setdefault((section,), document.value_location((section,)))
            for name, value in resources.items():
                at = document.key_location((section, name))
                where = address(section, name)
                if where in defined:
                    first, first_name = defined[where]
                    note = " (emails are compared case-insensitively)" if first_name != name else ""
                    problems.append(Problem(at, f"{printable(where)} is already defined at {first}{note}"))
                    continue
                defined[where] = (at, name)
                target[name] = value
                accepted.add((section, name))
        _copy_positions(document, merged, accepted)
    return merged, problems


def _copy_positions(source: Document, target: Document, accepted: set[DataPath]) -> None:
    for positions, into in ((source.values, target.values), (source.keys, target.keys)):
        for path, location in positions.items():
            if path[:1] in accepted or path[:2] in accepted:
                into[path] = location
