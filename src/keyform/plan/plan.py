"""The Plan: the one object everything before apply produces and apply consumes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keyform.errors import KeyformError
from keyform.plan.changes import Action, Change, RiskCategory

FORMAT_VERSION = "1"

# Apply phases: roles exist before the identities that use them; identities drop a role before
# the role is deleted; api_access is switched on first and off last.
_PHASE_ORG_FIRST, _PHASE_ROLES, _PHASE_IDENTITIES, _PHASE_DELETE_IDENTITIES, _PHASE_DELETE_ROLES, _PHASE_ORG_LAST = (
    range(6)
)
_KIND_ORDER = {"organization": 0, "roles": 1, "users": 2, "credentials": 3}
_ACTION_ORDER = {
    Action.ADOPT: 0,
    Action.CREATE: 1,
    Action.REPLACE: 2,
    Action.UPDATE: 3,
    Action.ROTATE: 4,
    Action.DELETE: 5,
}


def phase(change: Change) -> int:
    """The apply phase of a change (lower runs first; changes in one phase are independent)."""
    return _phase(change, change.kind)


def _phase(change: Change, kind: str) -> int:
    if kind == "organization":
        return _PHASE_ORG_LAST if (change.after or {}).get("api_access") is False else _PHASE_ORG_FIRST
    if kind == "roles":
        return _PHASE_DELETE_ROLES if change.action == Action.DELETE else _PHASE_ROLES
    return _PHASE_DELETE_IDENTITIES if change.action == Action.DELETE else _PHASE_IDENTITIES


def sort_key(change: Change) -> tuple[int, int, str, int]:
    kind = change.kind
    return (_phase(change, kind), _KIND_ORDER.get(kind, 9), change.address, _ACTION_ORDER[change.action])


@dataclass(frozen=True)
class Plan:
    """Ordered changes plus what the plan was made against; no secret is ever part of it."""

    changes: tuple[Change, ...]
    unmanaged: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)  # target, created_at, keyform version, ...

    @classmethod
    def from_changes(
        cls, changes: Iterable[Change], unmanaged: Iterable[str] = (), meta: Mapping[str, Any] | None = None
    ) -> Plan:
        return cls(tuple(sorted(changes, key=sort_key)), tuple(unmanaged), dict(meta or {}))

    @property
    def empty(self) -> bool:
        return not self.changes

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
            "changes": [change.to_dict() for change in self.changes],
            "unmanaged": list(self.unmanaged),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if not isinstance(data, Mapping) or data.get("format_version") != FORMAT_VERSION:
            found = data.get("format_version") if isinstance(data, Mapping) else type(data).__name__
            raise KeyformError(
                f"plan file has format_version {found!r}, this keyform reads {FORMAT_VERSION!r}: "
                "make the plan again with this version"
            )
        try:
            changes = tuple(Change.from_dict(item) for item in data["changes"])
        except (KeyError, TypeError, ValueError) as error:
            raise KeyformError(f"plan file is damaged ({error}): make the plan again") from None
        return cls(changes, tuple(data.get("unmanaged", ())), dict(data.get("meta", {})))
