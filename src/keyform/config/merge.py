"""Merge the root file and its included files into one document, refusing double definitions."""

from __future__ import annotations

from keyform.config.document import Document, MergedDocument
from keyform.config.hints import printable
from keyform.errors import Problem

RESOURCE_SECTIONS = ("roles", "users", "credentials")
MERGED_SECTIONS = (*RESOURCE_SECTIONS, "organization", "include")


def address(section: str, name: str) -> str:
    """The address of a resource: `roles/NAME`, `users/EMAIL` (lowercased), `credentials/NAME`."""
    return f"{section}/{name.lower() if section == 'users' else name}"


def merge(documents: list[Document]) -> tuple[MergedDocument, list[Problem]]:
    """One document holding the root's settings and every file's resources (first definition
    wins); a problem for each resource or `organization` defined twice."""
    root = documents[0]
    merged = MergedDocument(path=root.path, display=root.display, data={}, is_root=True, origins={(): root})
    problems: list[Problem] = []
    defined: dict[str, tuple[Document, str]] = {}  # address -> (the file that defined it, name as written)
    for document in documents:
        if not isinstance(document.data, dict):
            continue
        if document.is_root:
            for key, value in document.data.items():
                if key not in MERGED_SECTIONS:
                    merged.data[key] = value
                    merged.origins[(key,)] = document
        if "organization" in document.data:
            if "organization" in defined:
                first = defined["organization"][0].key_location(("organization",))
                at = document.key_location(("organization",))
                problems.append(Problem(at, f"organization is already defined at {first}"))
            else:
                defined["organization"] = (document, "organization")
                merged.data["organization"] = document.data["organization"]
                merged.origins[("organization",)] = document
        for section in RESOURCE_SECTIONS:
            resources = document.data.get(section)
            if not isinstance(resources, dict):
                continue
            target = merged.data.setdefault(section, {})
            merged.origins.setdefault((section,), document)
            for name, value in resources.items():
                where = address(section, name)
                if where in defined:
                    first_document, first_name = defined[where]
                    first = first_document.key_location((section, first_name))
                    note = " (emails are compared case-insensitively)" if first_name != name else ""
                    at = document.key_location((section, name))
                    problems.append(Problem(at, f"{printable(where)} is already defined at {first}{note}"))
                    continue
                defined[where] = (document, name)
                target[name] = value
                merged.origins[(section, name)] = document
    return merged, problems
