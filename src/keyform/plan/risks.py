"""Reviewer-facing risk annotations: who gains what (escalation) and what stops working (breaking)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keyform.catalog import Catalog
from keyform.plan.changes import Action, Change, Risk, RiskCategory

ROLE_RANK = {"standard": 0, "account_admin": 1, "account_owner": 2}


@dataclass(frozen=True)
class RoleBook:
    """Custom role definitions before (live) and after (desired) the plan, to resolve what a role grants."""

    before: Mapping[str, Mapping[str, Any]]
    after: Mapping[str, Mapping[str, Any]]


def grants(attributes: Mapping[str, Any] | None, roles: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Effective grants of an identity or role: `module:read`, `module:write`, `attribute:NAME`."""
    if not attributes:
        return set()
    result = {
        f"{module}:{level}" for module, levels in (attributes.get("permissions") or {}).items() for level in levels
    }
    result |= {f"attribute:{name}" for name in attributes.get("attributes") or ()}
    for role in attributes.get("roles") or ():
        result |= grants(roles.get(role), {})
    return result


def annotate(
    changes: Iterable[Change], book: RoleBook, catalog: Catalog | None, holders: Mapping[str, list[str]]
) -> list[Change]:
    """Return the changes with their risks filled in."""
    return [change.with_risks(tuple(_risks(change, book, catalog, holders))) for change in changes]


def _risks(change: Change, book: RoleBook, catalog: Catalog | None, holders: Mapping[str, list[str]]) -> Iterable[Risk]:
    before, after = change.before, change.after
    if change.action == Action.DELETE:
        yield Risk(RiskCategory.BREAKING, f"deletes {change.address}")
        return
    if change.action == Action.ROTATE:
        yield from _rotation_risks(change)
        return
    if change.action == Action.REPLACE:
        yield Risk(RiskCategory.BREAKING, f"replaces {change.address}: its id and secret change")
    granted_before, granted_after = grants(before, book.before), grants(after, book.after)
    gained, lost = granted_after - granted_before, granted_before - granted_after
    escalating = sorted(g for g in gained if _is_sensitive_grant(g, catalog))
    subject = change.address
    if change.kind == "roles" and holders.get(change.name):
        who = holders[change.name]
        subject = f"{change.address} (held by {len(who)}: {', '.join(who[:5])}{', ...' if len(who) > 5 else ''})"
    if escalating:
        yield Risk(RiskCategory.ESCALATION, f"{subject} gains {', '.join(escalating)}")
    if lost and change.action != Action.CREATE:
        yield Risk(RiskCategory.BREAKING, f"{subject} loses {', '.join(sorted(lost))}")
    yield from _flag_risks(change, before or {}, after or {})


def _flag_risks(change: Change, before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterable[Risk]:
    creating = change.action == Action.CREATE
    if after.get("cognitive_access") and not before.get("cognitive_access"):
        yield Risk(RiskCategory.ESCALATION, f"{change.address} is granted cognitive (sensitive assessment) access")
    if "role" in after:
        old, new = before.get("role"), after["role"]
        if (old is None and new != "standard") or (old is not None and ROLE_RANK[new] > ROLE_RANK.get(old, 0)):
            yield Risk(
                RiskCategory.ESCALATION, f"{change.address} org role {'set to' if creating else 'raised to'} {new}"
            )
        elif old is not None and ROLE_RANK[new] < ROLE_RANK.get(old, 0):
            yield Risk(RiskCategory.BREAKING, f"{change.address} org role lowered from {old} to {new}")
    if after.get("api_access") is True and before.get("api_access") is False:
        yield Risk(
            RiskCategory.ESCALATION,
            "organization api_access switched on: every enabled key and credential starts working",
        )
    if after.get("api_access") is False and before.get("api_access") is True:
        yield Risk(
            RiskCategory.BREAKING, "organization api_access switched off: every key and credential stops working"
        )
    for flag, what in (("enabled", "disabled"), ("api_key_enabled", "API key disabled")):
        if before.get(flag) is True and after.get(flag) is False:
            yield Risk(RiskCategory.BREAKING, f"{change.address} {what}")
    if after.get("archived") and not before.get("archived") and not creating:
        yield Risk(RiskCategory.BREAKING, f"{change.address} archived: its API key stops working")
    if after.get("api_key_enabled") is True and before.get("api_key_enabled") is None:
        yield Risk(
            RiskCategory.ESCALATION,
            f"{change.address} gets a new API key acting with its role {after.get('role', '')}".rstrip(),
        )


def _rotation_risks(change: Change) -> Iterable[Risk]:
    phase = change.details.get("phase")
    old = change.details.get("old_secret", "the old secret")
    if change.kind == "users":
        yield Risk(RiskCategory.BREAKING, f"{change.address}: new API key deactivates the current key ({old}) at once")
    elif phase in ("immediate", "reissue"):
        yield Risk(
            RiskCategory.BREAKING, f"{change.address}: new client secret; the current secret ({old}) is revoked at once"
        )
    elif phase == "revoke":
        yield Risk(RiskCategory.BREAKING, f"{change.address}: secret {old} stops working now (rotation overlap over)")


def _is_sensitive_grant(grant: str, catalog: Catalog | None) -> bool:
    """Write access anywhere and any sensitive attribute count as escalation."""
    scope, _, value = grant.partition(":")
    if scope == "attribute":
        return catalog is None or catalog.is_sensitive(value)
    return value == "write"
