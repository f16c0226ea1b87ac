"""The review summary of a plan: what a reviewer needs on a pull request's first screen.

Counts of identities gaining and losing access, escalations grouped by identity, what stops
working and when, and unmanaged identities with what they hold. Worked out from the plan alone
(its changes, effective access and unmanaged findings), so a saved plan file reviews the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keyform.contract import Action, RiskCategory
from keyform.plan.access import Grant, UnmanagedAccess
from keyform.plan.values import old_secret_stops

if TYPE_CHECKING:
    from keyform.plan.plan import Plan

AT_APPLY = "at apply"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breaking:
    """Something that stops working, and when."""

    address: str
    message: str
    when: str  # "at apply", "at once", or an ISO time (a rotation overlap's end)

    def to_dict(self) -> dict[str, str]:
        return {"address": self.address, "message": self.message, "when": self.when}


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    gaining: tuple[str, ...] = ()  # identities that gain any access
    losing: tuple[str, ...] = ()  # identities that lose any access
    escalations: dict[str, list[str]] = field(default_factory=dict)  # address -> what it gains, in words
    breaking: tuple[Breaking, ...] = ()
    unmanaged: tuple[UnmanagedAccess, ...] = ()
    drift: bool = False  # plan --detailed-exitcode exits 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "identities_gaining": len(self.gaining),
            "identities_losing": len(self.losing),
            "escalations": self.escalations,
            "breaking": [item.to_dict() for item in self.breaking],
            "unmanaged_privileged": [found.address for found in self.unmanaged if found.privileged],
            "drift": self.drift,
        }


def review(plan: Plan) -> Review:
    return Review(
        gaining=tuple(access.address for access in plan.access if access.gains),
        losing=tuple(access.address for access in plan.access if access.losses),
        escalations=escalations(plan),
        breaking=tuple(breaking(plan)),
        unmanaged=plan.unmanaged_access,
        drift=plan.drifted,
    )


def gains_in_words(grants: Iterable[Grant], *, only_sensitive: bool = False) -> list[str]:
    """Grants grouped by the changes they come through: ["attribute:salary via roles/payroll"]."""
    by_source: dict[tuple[str, ...], list[str]] = {}
    for grant in grants:
        if grant.sensitive or not only_sensitive:
            by_source.setdefault(grant.through, []).append(grant.grant)
    return [
        f"{', '.join(names)} via {', '.join(through)}" if through else ", ".join(names)
        for through, names in by_source.items()
    ]


def escalations(plan: Plan) -> dict[str, list[str]]:
    """Address -> its escalations: the sensitive grants each identity gains, then the provider's
    own escalations (an org role raised, a key that now acts as admin). The engine's "X gains Y"
    risks are left out where effective access already says it per identity."""
    result: dict[str, list[str]] = {}
    per_identity = bool(plan.access)
    for change in plan.changes:  # the provider's own first: they are few and weigh most (a new admin)
        for risk in change.risks:
            if risk.category != RiskCategory.ESCALATION:
                continue
            if per_identity and _is_grant_risk(risk.message, change.address):
                continue
            message = risk.message.removeprefix(change.address).lstrip(": ") or risk.message
            result.setdefault(change.address, []).append(message)
    for access in plan.access:
        if access.escalates:
            gains = [f"gains {words}" for words in gains_in_words(access.gains, only_sensitive=True)]
            result.setdefault(access.address, []).extend(gains)
    return result


def _is_grant_risk(message: str, address: str) -> bool:
    """The engine's own gained-grants risk (keyform.plan.risks), which effective access details."""
    return message.startswith((f"{address} gains ", f"{address} (held by "))


def breaking(plan: Plan) -> list[Breaking]:
    """What stops working and when: deletes and lost access at apply, rotations at once or at
    their overlap's end."""
    found = []
    for change in plan.changes:
        stops = old_secret_stops(change)
        for risk in change.risks:
            if risk.category == RiskCategory.BREAKING:
                found.append(Breaking(address=change.address, message=risk.message, when=stops or AT_APPLY))
        if change.action == Action.ROTATE and change.details.get("phase") == "add" and stops is not None:
            old = change.details.get("old_secret", "the current secret")
            message = f"{change.address}: the current secret ({old}) stops working at the overlap's end"
            found.append(Breaking(address=change.address, message=message, when=stops))
    return found
