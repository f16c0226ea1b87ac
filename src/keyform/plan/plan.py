"""The Plan: the one object everything before apply produces and apply consumes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keyform.contract import Action, Change, Kind, Provider, RiskCategory
from keyform.errors import KeyformError
from keyform.plan.access import IdentityAccess, UnmanagedAccess
from keyform.plan.review import review

FORMAT_VERSION = "1"

_ACTION_ORDER = {
    Action.ADOPT: 0,
    Action.CREATE: 1,
    Action.REPLACE: 2,
    Action.UPDATE: 3,
    Action.ROTATE: 4,
    Action.DELETE: 5,
    Action.FORGET: 6,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyOrder:
    """The order changes apply in, from the kinds' references: a referenced kind (roles) is
    created and updated before the kinds that reference it (users, credentials); deletes run in
    reverse, the referencing kinds first; what the provider says must run last runs last.
    Changes in one phase are independent and may run concurrently."""

    levels: Mapping[str, int]  # kind -> depth in the reference graph (0: references nothing)
    ranks: Mapping[str, int]  # kind -> position in the provider's declaration (ties within a phase)
    deepest: int = 0  # the highest level
    last: Callable[[Change], bool] = field(default=lambda change: False)

    @classmethod
    def of(cls, provider: Provider) -> ApplyOrder:
        return cls.from_kinds(type(provider).kinds, provider.runs_last)

    @classmethod
    def from_kinds(cls, kinds: Sequence[Kind], last: Callable[[Change], bool] | None = None) -> ApplyOrder:
        by_name = {kind.name: kind for kind in kinds}
        levels: dict[str, int] = {}

        def level(name: str, seen: frozenset[str]) -> int:
            if name not in levels:
                kind = by_name.get(name)
                targets = [t for t in kind.references.values() if t in by_name and t not in seen] if kind else []
                levels[name] = 1 + max((level(t, seen | {t}) for t in targets), default=-1)
            return levels[name]

        for name in by_name:
            level(name, frozenset({name}))
        ranks = {kind.name: index for index, kind in enumerate(kinds)}
        deepest = max(levels.values(), default=0)
        return cls(levels=levels, ranks=ranks, deepest=deepest, last=last or (lambda change: False))

    def phase(self, change: Change) -> int:
        """The apply phase of a change (lower runs first)."""
        deepest = self.deepest
        if self.last(change):
            return 2 * deepest + 2
        level = self.levels.get(change.kind, 0)
        if change.action == Action.DELETE:
            return deepest + 1 + (deepest - level)
        return level

    def sort_key(self, change: Change) -> tuple[int, int, str, int]:
        kind = change.kind
        return (self.phase(change), self.ranks.get(kind, len(self.ranks)), change.address, _ACTION_ORDER[change.action])


UNORDERED = ApplyOrder(levels={}, ranks={})  # no kinds known: deletes after the rest, by address


@dataclass(frozen=True)
class Plan:
    """Ordered changes plus what the plan was made against; no secret is ever part of it."""

    changes: tuple[Change, ...]
    unmanaged: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)  # target, created_at, keyform version, ...
    access: tuple[IdentityAccess, ...] = ()  # every identity whose effective access changes
    unmanaged_access: tuple[UnmanagedAccess, ...] = ()  # what each unmanaged identity holds
    drift: tuple[str, ...] = ()  # unmanaged addresses that count as drift (safety.unmanaged_is_drift)

    @classmethod
    def from_changes(
        cls,
        changes: Iterable[Change],
        unmanaged: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
        *,
        order: ApplyOrder = UNORDERED,
        access: Iterable[IdentityAccess] = (),
        unmanaged_access: Iterable[UnmanagedAccess] = (),
        drift: Iterable[str] = (),
    ) -> Plan:
        return cls(
            tuple(sorted(changes, key=order.sort_key)),
            tuple(unmanaged),
            dict(meta or {}),
            access=tuple(access),
            unmanaged_access=tuple(unmanaged_access),
            drift=tuple(drift),
        )

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def drifted(self) -> bool:
        """Whether `plan --detailed-exitcode` exits 2: there are changes, or unmanaged resources
        that the configuration counts as drift."""
        return bool(self.changes or self.drift)

    def summary(self) -> dict[str, int]:
        counts = Counter(change.action.value for change in self.changes)
        result = {action.value: counts.get(action.value, 0) for action in Action}
        result["escalations"] = sum(1 for c in self.changes for r in c.risks if r.category == RiskCategory.ESCALATION)
        result["breaking"] = sum(1 for c in self.changes for r in c.risks if r.category == RiskCategory.BREAKING)
        result["lookalikes"] = sum(1 for c in self.changes for r in c.risks if r.category == RiskCategory.LOOKALIKE)
        result["unmanaged"] = len(self.unmanaged)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "meta": dict(self.meta),
            "summary": self.summary(),
            "review": review(self).to_dict(),
            "changes": [change.to_dict() for change in self.changes],
            "unmanaged": list(self.unmanaged),
            "effective_access": {access.address: access.to_dict() for access in self.access},
            "unmanaged_access": {found.address: found.to_dict() for found in self.unmanaged_access},
            "unmanaged_drift": list(self.drift),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if not isinstance(data, Mapping) or data.get("format_version") != FORMAT_VERSION:
            found = data.get("format_version") if isinstance(data, Mapping) else type(data).__name__
            raise KeyformError(
                f"plan file has format_version {found!r}, this keyform reads {FORMAT_VERSION!r}: "
                "make the plan again with this version"
            )
        try:  # effective_access and the rest came later: a plan file without them reads as before
            changes = tuple(Change.from_dict(item) for item in data["changes"])
            access = tuple(IdentityAccess.from_dict(a, item) for a, item in data.get("effective_access", {}).items())
            found = tuple(UnmanagedAccess.from_dict(a, item) for a, item in data.get("unmanaged_access", {}).items())
            drift = tuple(str(address) for address in data.get("unmanaged_drift", ()))
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise KeyformError(f"plan file is damaged ({error}): make the plan again") from None
        return cls(
            changes,
            tuple(data.get("unmanaged", ())),
            dict(data.get("meta", {})),
            access=access,
            unmanaged_access=found,
            drift=drift,
        )
