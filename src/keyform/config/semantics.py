"""Checks beyond the schema, on the merged document: references, catalog, durations, protect.

The checks read the data defensively (a wrong type is the schema's problem, reported already),
so they can run even when the schema found problems, and every problem is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from keyform.config.document import DataPath, Document, dotted
from keyform.config.durations import parse_duration
from keyform.config.hints import did_you_mean, printable, quote
from keyform.config.merge import address
from keyform.config.sizes import SIZE_PATTERN, parse_size
from keyform.contract import Kind, Provider, kind_of
from keyform.errors import Problem
from keyform.providers.registry import GROUP, available_providers, is_installed


def check(
    merged: Document, kinds: Sequence[Kind] = (), *, provider: type[Provider] | None = None, complete: bool = True
) -> list[Problem]:
    """Every semantic problem of the merged desired state of a provider with `kinds`. When not
    `complete` (a file could not be loaded), checks that need every declaration (references,
    protect) are skipped."""
    return _Checker(merged, kinds, provider, complete).run()


class _Checker:
    def __init__(self, merged: Document, kinds: Sequence[Kind], provider: type[Provider] | None, complete: bool):
        self.doc = merged
        self.kinds = kinds
        self.provider = provider
        self.complete = complete
        self.data = merged.data if isinstance(merged.data, dict) else {}
        self.problems: list[Problem] = []
        self.names = {
            kind.name: {kind.key(name) for name in _mapping(self.data.get(kind.name))}
            for kind in kinds
            if not kind.singleton
        }

    def add(self, path: DataPath, message: str, *, key: bool = False) -> None:
        at = self.doc.key_location(path) if key else self.doc.value_location(path)
        self.problems.append(Problem(at, message))

    def run(self) -> list[Problem]:
        self.check_provider()
        for kind in self.kinds:
            if kind.singleton:
                continue
            references = self.references(kind)
            for name, resource in _mapping(self.data.get(kind.name)).items():
                path, resource = (kind.name, name), _mapping(resource)
                for attribute, target in references:
                    self.check_refs((*path, attribute), resource.get(attribute), target)
                if kind.secret is not None:
                    self.check_secret_policy(path, resource, kind.secret.policy_path)
        if self.provider is not None:
            for where, message, key in self.provider.check_document(self.data):
                self.add(where, message, key=key)
        self.check_protect()
        self.check_removed()
        self.check_moved()
        self.check_unmanaged_drift()
        self.check_max_file_size()
        return self.problems

    def check_unmanaged_drift(self) -> None:
        """unmanaged_is_drift counts what `unmanaged: report` reports: without it, it would do nothing."""
        safety = _mapping(self.data.get("safety"))
        setting, unmanaged = safety.get("unmanaged_is_drift", False), safety.get("unmanaged", "ignore")
        if setting is not False and unmanaged != "report":
            self.add(
                ("safety", "unmanaged_is_drift"),
                f"safety.unmanaged_is_drift counts the unmanaged resources keyform reports, but safety.unmanaged"
                f" is {unmanaged}: set safety.unmanaged: report",
            )

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

    def references(self, kind: Kind) -> list[tuple[str, Kind]]:
        """The attributes of `kind` that name resources of another kind, and that kind; none when
        not every declaration was loaded (a reference could name one in a file that failed)."""
        if not self.complete:
            return []
        found = ((attribute, kind_of(self.kinds, name)) for attribute, name in kind.references.items())
        return [(attribute, target) for attribute, target in found if target is not None]

    def check_refs(self, path: DataPath, value: Any, target: Kind) -> None:
        declared = self.names.get(target.name, set())
        items = _items(value) if isinstance(value, list) else ([(None, value)] if value is not None else [])
        for index, name in items:
            if isinstance(name, str) and target.key(name) not in declared:
                hint = did_you_mean(name, declared) or (
                    "" if declared else f" (no {target.name} are declared under {target.name}:)"
                )
                at = path if index is None else (*path, index)
                self.add(at, f"{dotted(path[:2])}: unknown {target.noun or target.name} {quote(name)}{hint}")

    def check_secret_policy(self, path: DataPath, resource: dict[str, Any], policy_path: tuple[str, ...]) -> None:
        settings = resource
        for part in policy_path:
            settings = _mapping(settings.get(part))
        where = (*path, *policy_path)
        rotate = self.check_duration((*where, "rotate_after"), settings)
        overlap = self.check_duration((*where, "rotation_overlap"), settings)
        if rotate is not None and overlap is not None and overlap >= rotate:
            self.add(
                (*where, "rotation_overlap"),
                f"{dotted((*where, 'rotation_overlap'))} must be shorter than rotate_after"
                f" ({settings['rotation_overlap']} is not shorter than"
                f" {settings['rotate_after']})",
            )

    def check_duration(self, path: tuple[*DataPath, str], resource: dict[str, Any]) -> Any:
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
        singletons = {kind.name for kind in self.kinds if kind.singleton}
        declared = {f"{section}/{name}" for section, names in self.names.items() for name in names} | (
            singletons & self.data.keys()
        )
        for index, entry in _items(protect):
            if not isinstance(entry, str) or ("/" not in entry and entry not in singletons):
                continue  # the schema reports it
            section, _, name = entry.partition("/")
            normal = address(self.kinds, section, name) if name else entry
            if normal not in declared:
                hint = did_you_mean(normal, declared, cutoff=0.85)
                self.add(
                    ("safety", "protect", index),
                    f"safety.protect names {printable(entry)} which is not declared{hint}",
                )

    def check_removed(self) -> None:
        """An address under `removed:` must not be declared too (the plan would adopt and forget it)."""
        removed = self.data.get("removed")
        if not self.complete or not removed:
            return
        for index, entry in _items(removed):
            if not isinstance(entry, str) or "/" not in entry:
                continue  # the schema reports it
            section, _, name = entry.partition("/")
            normal = address(self.kinds, section, name)
            if (
                name
                and self.kinds
                and kind_of(self.kinds, section)
                and normal.partition("/")[2] in self.names.get(section, ())
            ):
                self.add(
                    ("removed", index),
                    f"removed lists {printable(entry)}, which is still declared under {section}: delete one of them "
                    "(removed stops managing a resource you no longer declare)",
                )

    def check_moved(self) -> None:
        """Each `moved:` entry renames one resource: same kind at both ends, `to` declared, `from`
        not, and no address at two ends of moves (chains and cycles are refused, not followed)."""
        moves: list[tuple[int, str, str]] = []
        for index, entry in _items(self.data.get("moved")):
            if isinstance(entry, dict) and isinstance(entry.get("from"), str) and isinstance(entry.get("to"), str):
                source, target = self._keyed(entry["from"]), self._keyed(entry["to"])
                if source is not None and target is not None:  # else the schema reports it
                    moves.append((index, source, target))
        sources: dict[str, int] = {}
        targets: dict[str, int] = {}
        for index, source, target in moves:
            sources.setdefault(source, index)
            targets.setdefault(target, index)
        for index, source, target in moves:
            problem = self._move_problem(index, source, target, sources, targets)
            if problem is not None:
                path, message = problem
                self.add(path, f"moved {source} -> {target}: {message}")

    def _move_problem(
        self, index: int, source: str, target: str, sources: dict[str, int], targets: dict[str, int]
    ) -> tuple[DataPath, str] | None:
        source_kind, target_kind = source.partition("/")[0], target.partition("/")[0]
        if source_kind != target_kind:
            return ("moved", index), f"from and to must be the same kind (a move renames one {source_kind} resource)"
        if source == target:
            return ("moved", index), "from and to are the same address: delete the entry"
        for address_, ends, end in ((source, sources, "from"), (target, targets, "to")):
            if ends[address_] != index:
                first = self.doc.value_location(("moved", ends[address_]))
                return ("moved", index, end), f"{address_} is already the {end} of the entry at {first}: keep one"
        removed = {self._keyed(entry) for entry in self.data.get("removed") or () if isinstance(entry, str)}
        if source in removed:
            return ("moved", index, "from"), f"removed: lists {source} too: keep one (rename it, or stop managing it)"
        if target in sources:
            onward = self.doc.value_location(("moved", sources[target]))
            return (
                ("moved", index, "to"),
                f"the entry at {onward} moves {target} on: chains are not followed; "
                "write one entry from the address that is live to the one declared now",
            )
        if not self.complete or kind_of(self.kinds, source_kind) is None:
            return None
        declared = self.names.get(source_kind, set())
        if source.partition("/")[2] in declared:
            return (
                ("moved", index, "from"),
                f"{source} is still declared under {source_kind}: delete it there "
                "(the resource is declared under its new name)",
            )
        if target.partition("/")[2] not in declared:
            hint = did_you_mean(target, {f"{source_kind}/{name}" for name in declared}, cutoff=0.85)
            return (
                ("moved", index, "to"),
                f"{target} is not declared{hint}: declare the resource under its new name in {source_kind}",
            )
        return None

    def _keyed(self, entry: str) -> str | None:
        section, _, name = entry.partition("/")
        if not name or kind_of(self.kinds, section) is None:
            return None
        return address(self.kinds, section, name)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterable[tuple[int, Any]]:
    return enumerate(value) if isinstance(value, list) else ()
