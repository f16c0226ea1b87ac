"""Typed, immutable changes with a stable order; each renders itself as data.

Changes and risks are NamedTuples, like the resource records: a plan of 100,000 new resources
builds each change more than once, and a frozen dataclass costs four times as much to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple


class Action(StrEnum):
    """What a change does to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ROTATE = "rotate"  # a new secret for an existing credential or API key
    REPLACE = "replace"  # delete and create (an immutable field changed)
    ADOPT = "adopt"  # take ownership of a live resource keyform did not create


SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.ROTATE: "±",
    Action.REPLACE: "±",
    Action.ADOPT: "&",
}


class RiskCategory(StrEnum):
    """Why a reviewer should look twice."""

    ESCALATION = "escalation"  # someone gains access
    BREAKING = "breaking"  # something that works today stops working
    LOOKALIKE = "lookalike"  # an identity whose name looks like another's (mixed scripts, confusables)


class Risk(NamedTuple):
    """A reviewer-facing annotation on a change."""

    category: RiskCategory
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"category": str(self.category), "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Risk:
        return cls(RiskCategory(data["category"]), data["message"])


NO_DETAILS: Mapping[str, Any] = MappingProxyType({})  # the default details: shared, so read-only


class Change(NamedTuple):
    """One change to one resource, with what the plan saw (id, etag) to detect staleness."""

    action: Action
    address: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    id: str | None = None
    etag: str | None = None
    reason: str = ""
    risks: tuple[Risk, ...] = ()
    details: Mapping[str, Any] = NO_DETAILS  # action-specific facts (rotation phase, ...)

    @property
    def kind(self) -> str:
        return self.address.partition("/")[0]

    @property
    def name(self) -> str:
        return self.address.split("/", 1)[1] if "/" in self.address else self.address

    def changed_fields(self) -> list[str]:
        """Attribute names whose value differs between before and after (sorted)."""
        before, after = self.before or {}, self.after or {}
        return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))

    def to_dict(self) -> dict[str, Any]:
        action = self.action
        return {
            "address": self.address,
            "action": str(action),  # the plain value (str() of a StrEnum is it, and cheaper than .value)
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "changed": self.changed_fields() if action is Action.UPDATE or action is Action.ADOPT else [],
            "reason": self.reason,
            "risks": [risk.to_dict() for risk in self.risks],
            "id": self.id,
            "etag": self.etag,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            action=Action(data["action"]),
            address=data["address"],
            before=data.get("before"),
            after=data.get("after"),
            id=data.get("id"),
            etag=data.get("etag"),
            reason=data.get("reason", ""),
            risks=tuple(Risk.from_dict(r) for r in data.get("risks", ())),
            details=data.get("details") or {},
        )
