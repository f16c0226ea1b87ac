"""Checks beyond the schema, on the merged document: references, catalog, durations, protect.

The checks read the data defensively (a wrong type is the schema's problem, reported already),
so they can run even when the schema found problems, and every problem is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from keyform.catalog import Catalog
from keyform.config.catalogs import catalog_for
from keyform.config.document import DataPath, Document, dotted
from keyform.config.durations import parse_duration
from keyform.config.hints import did_you_mean, printable, quote
from keyform.config.merge import RESOURCE_SECTIONS, address
from keyform.config.sizes import SIZE_PATTERN, parse_size
from keyform.errors import Problem
from keyform.providers.registry import GROUP, available_providers, is_installed


def check(merged: Document, *, complete: bool = True) -> list[Problem]:
    """Every semantic problem of the merged desired state. When not `complete` (a file could
    not be loaded), checks that need every declaration (role references, protect) are skipped."""
    return _Checker(merged, complete).run()


class _Checker:
    def __init__(self, merged: Document, complete: bool):
        self.doc = merged
        self.complete = complete
        self.data = merged.data if isinstance(merged.data, dict) else {}
        self.problems: list[Problem] = []
        self.roles = set(_mapping(self.data.get("roles")))
        self.catalog: Catalog | None = None

    def add(self, path: DataPath, message: str, *, key: bool = False) -> None:
        at = self.doc.key_location(path) if key else self.doc.value_location(path)
        self.problems.append(Problem(at, message))

    def run(self) -> list[Problem]:
        self.check_provider()
        for name, role in _mapping(self.data.get("roles")).items():
            self.check_scopes(("roles", name), _mapping(role))
        for email, user in _mapping(self.data.get("users")).items():
            user = _mapping(user)
            self.check_role_refs(("users", email), user)
            api_key = _mapping(user.get("api_key"))
            self.check_duration(("users", email, "api_key", "rotate_after"), api_key)
        for name, credential in _mapping(self.data.get("credentials")).items():
            path = ("credentials", name)
            credential = _mapping(credential)
            self.check_role_refs(path, credential)
            self.check_scopes(path, credential)
            rotate = self.check_duration((*path, "rotate_after"), credential)
            overlap = self.check_duration((*path, "rotation_overlap"), credential)
            if rotate is not None and overlap is not None and overlap >= rotate:
                self.add(
                    (*path, "rotation_overlap"),
                    f"{dotted((*path, 'rotation_overlap'))} must be shorter than rotate_after"
                    f" ({credential['rotation_overlap']} is not shorter than"
                    f" {credential['rotate_after']})",
                )
        self.check_protect()
        self.check_max_file_size()
        return self.problems

    def check_max_file_size(self) -> None:
        text = self.data.get("max_file_size")
        if isinstance(text, str) and re.fullmatch(SIZE_PATTERN, text):  # other forms: the schema reports them
            try:
                parse_size(text)
            except ValueError as error:
                self.add(("max_file_size",), f"max_file_size: {error}")

    def check_provider(self) -> None:
        kind = _mapping(self.data.get("provider")).get("type")
        if not isinstance(kind, str) or not kind:
            return
        if not is_installed(kind):
            known = available_providers()
            self.add(
                ("provider", "type"),
                f"unknown provider type {quote(kind)}{did_you_mean(kind, known)}"
                f" (known: {', '.join(known) or 'none'}; providers register under the"
                f" {GROUP} entry point group)",
            )
        self.catalog = catalog_for(kind)

    def check_role_refs(self, path: DataPath, resource: dict[str, Any]) -> None:
        if not self.complete:
            return
        for index, name in _items(resource.get("roles")):
            if isinstance(name, str) and name not in self.roles:
                hint = did_you_mean(name, self.roles) or ("" if self.roles else " (no roles are declared under roles:)")
                self.add((*path, "roles", index), f"{dotted(path)}: unknown role {quote(name)}{hint}")

    def check_scopes(self, path: DataPath, resource: dict[str, Any]) -> None:
        catalog = self.catalog
        if catalog is None:
            return
        for module, levels in _mapping(resource.get("permissions")).items():
            where = (*path, "permissions", module)
            if module not in catalog.modules:
                hint = did_you_mean(module, catalog.modules) or (f" (modules: {', '.join(catalog.modules)})")
                self.add(where, f"{dotted(path)}: unknown module {quote(module)}{hint}", key=True)
            elif catalog.is_read_only(module):
                for index, level in _items(levels):
                    if level == "write":
                        self.add(
                            (*where, index),
                            f"{dotted(where)}: module {quote(module)} is read only: remove 'write'",
                        )
        for index, attribute in _items(resource.get("attributes")):
            if isinstance(attribute, str) and attribute not in catalog.attributes:
                hint = did_you_mean(attribute, catalog.attributes) or (
                    f" (attributes: {', '.join(catalog.attributes)})"
                )
                self.add(
                    (*path, "attributes", index),
                    f"{dotted(path)}: unknown attribute {quote(attribute)}{hint}",
                )

    def check_duration(self, path: DataPath, resource: dict[str, Any]) -> Any:
        text = resource.get(path[-1])
        if not isinstance(text, str):
            return None
        try:
            return parse_duration(text)
        except ValueError as error:
            self.add(path, f"{dotted(path)}: {error}")
            return None

    def check_protect(self) -> None:
        protect = _mapping(self.data.get("safety")).get("protect")
        if not self.complete or not protect:
            return
        declared = {
            address(section, name) for section in RESOURCE_SECTIONS for name in _mapping(self.data.get(section))
        }
        if "organization" in self.data:
            declared.add("organization")
        for index, entry in _items(protect):
            if not isinstance(entry, str) or ("/" not in entry and entry != "organization"):
                continue  # the schema reports it
            section, _, name = entry.partition("/")
            normal = address(section, name) if name else entry
            if normal not in declared:
                hint = did_you_mean(normal, declared, cutoff=0.85)
                self.add(
                    ("safety", "protect", index),
                    f"safety.protect names {printable(entry)} which is not declared{hint}",
                )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterable[tuple[int, Any]]:
    return enumerate(value) if isinstance(value, list) else ()
