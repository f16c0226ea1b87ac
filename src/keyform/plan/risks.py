"""Reviewer-facing risk annotations: who gains what (escalation) and what stops working (breaking)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keyform.catalog import Catalog
from keyform.plan.changes import Action, Change, Risk, RiskCategory
from keyform.plan.lookalikes import describe, lookalike_characters, looks_like

ROLE_RANK = {"standard": 0, "account_admin": 1, "account_owner": 2}


@dataclass(frozen=True)
class RoleBook:
    """Custom role definitions before (live) and after (desired) the plan, to resolve what a role grants."""

    before: Mapping[str, Mapping[str, Any]]
    after: Mapping[str, Mapping[str, Any]]


def assess(
    changes: Iterable[Change], book: RoleBook, catalog: Catalog | None, holders: Mapping[str, list[str]]
) -> list[tuple[Risk, ...]]:
    """The risks of each change, in order."""
    before, after = _Grants(book.before, catalog), _Grants(book.after, catalog)
    return [tuple(_risks(change, before, after, holders)) for change in changes]


class _Grants:
    """What identities and roles grant on one side of a plan; each role and grant is worked out once."""

    def __init__(self, roles: Mapping[str, Mapping[str, Any]], catalog: Catalog | None) -> None:
        self._roles = roles
        self._catalog = catalog
        self._of_role: dict[str, frozenset[str]] = {}
        self._sensitive: dict[str, bool] = {}

    def of(self, attributes: Mapping[str, Any] | None) -> frozenset[str] | set[str]:
        """Effective grants of an identity or role: `module:read`, `module:write`, `attribute:NAME`."""
        if not attributes:
            return frozenset()
        permissions, names = attributes.get("permissions"), attributes.get("attributes")
        result = (
            {f"{module}:{level}" for module, levels in permissions.items() for level in levels}
            if permissions
            else set()
        )
        if names:
            result.update(f"attribute:{name}" for name in names)
        for role in attributes.get("roles") or ():
            result |= self._role(role)
        return result

    def _role(self, name: str) -> frozenset[str]:
        granted = self._of_role.get(name)
        if granted is None:
            granted = self._of_role[name] = frozenset(_Grants({}, None).of(self._roles.get(name)))
        return granted

    def escalating(self, gained: Iterable[str]) -> list[str]:
        """The gained grants that count as escalation, sorted."""
        escalating = [grant for grant in gained if self._is_sensitive(grant)]
        if len(escalating) > 1:
            escalating.sort()
        return escalating

    def _is_sensitive(self, grant: str) -> bool:
        """Write access anywhere and any sensitive attribute count as escalation."""
        sensitive = self._sensitive.get(grant)
        if sensitive is None:
            scope, _, value = grant.partition(":")
            if scope == "attribute":
                sensitive = self._catalog is None or self._catalog.is_sensitive(value)
            else:
                sensitive = value == "write"
            self._sensitive[grant] = sensitive
        return sensitive


def _risks(change: Change, before_side: _Grants, after_side: _Grants, holders: Mapping[str, list[str]]) -> list[Risk]:
    action, address, before, after = change.action, change.address, change.before, change.after
    if action == Action.DELETE:
        return [Risk(RiskCategory.BREAKING, f"deletes {address}")]
    if action == Action.ROTATE:
        return _rotation_risks(change)
    risks = _lookalike_risks(change) if change.kind == "users" else []
    if action == Action.REPLACE:
        risks.append(Risk(RiskCategory.BREAKING, f"replaces {address}: its id and secret change"))
    granted_before, granted_after = before_side.of(before), after_side.of(after)
    gained, lost = granted_after - granted_before, granted_before - granted_after
    escalating = after_side.escalating(gained)
    subject = address
    if holders and address.startswith("roles/") and holders.get(change.name):
        who = holders[change.name]
        subject = f"{address} (held by {len(who)}: {', '.join(who[:5])}{', ...' if len(who) > 5 else ''})"
    if escalating:
        risks.append(Risk(RiskCategory.ESCALATION, f"{subject} gains {', '.join(escalating)}"))
    if lost and action != Action.CREATE:
        risks.append(Risk(RiskCategory.BREAKING, f"{subject} loses {', '.join(sorted(lost))}"))
    risks += _flag_risks(address, action == Action.CREATE, before or {}, after or {})
    return risks


def _flag_risks(address: str, creating: bool, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Risk]:
    was, now = before.get, after.get
    risks = []
    if now("cognitive_access") and not was("cognitive_access"):
        risks.append(Risk(RiskCategory.ESCALATION, f"{address} is granted cognitive (sensitive assessment) access"))
    new = now("role")
    if new is not None:
        old = was("role")
        if (old is None and new != "standard") or (old is not None and ROLE_RANK[new] > ROLE_RANK.get(old, 0)):
            risks.append(
                Risk(RiskCategory.ESCALATION, f"{address} org role {'set to' if creating else 'raised to'} {new}")
            )
        elif old is not None and ROLE_RANK[new] < ROLE_RANK.get(old, 0):
            risks.append(Risk(RiskCategory.BREAKING, f"{address} org role lowered from {old} to {new}"))
    api_access = now("api_access")
    if api_access is True and was("api_access") is False:
        risks.append(
            Risk(
                RiskCategory.ESCALATION,
                "organization api_access switched on: every enabled key and credential starts working",
            )
        )
    elif api_access is False and was("api_access") is True:
        risks.append(
            Risk(RiskCategory.BREAKING, "organization api_access switched off: every key and credential stops working")
        )
    if not creating:  # a new resource has nothing to switch off
        for flag, what in (("enabled", "disabled"), ("api_key_enabled", "API key disabled")):
            if was(flag) is True and now(flag) is False:
                risks.append(Risk(RiskCategory.BREAKING, f"{address} {what}"))
        if now("archived") and not was("archived"):
            risks.append(Risk(RiskCategory.BREAKING, f"{address} archived: its API key stops working"))
    if now("api_key_enabled") is True and was("api_key_enabled") is None:
        risks.append(
            Risk(
                RiskCategory.ESCALATION,
                f"{address} gets a new API key acting with its role {now('role', '')}".rstrip(),
            )
        )
    return risks


def _rotation_risks(change: Change) -> list[Risk]:
    phase = change.details.get("phase")
    old = change.details.get("old_secret", "the old secret")
    if change.kind == "users":
        message = f"{change.address}: new API key deactivates the current key ({old}) at once"
    elif phase in ("immediate", "reissue"):
        message = f"{change.address}: new client secret; the current secret ({old}) is revoked at once"
    elif phase == "revoke":
        message = f"{change.address}: secret {old} stops working now (rotation overlap over)"
    else:
        return []
    return [Risk(RiskCategory.BREAKING, message)]


def _lookalike_risks(change: Change) -> list[Risk]:
    """An email that reads as another one: flagged when the plan brings that user in (create, adopt, replace)."""
    if change.action not in (Action.CREATE, Action.ADOPT, Action.REPLACE):
        return []
    characters = lookalike_characters(change.name)
    if not characters:
        return []
    plain = looks_like(change.name, characters)
    seen = f"looks like {plain} but " if plain != change.name else ""
    return [
        Risk(
            RiskCategory.LOOKALIKE,
            f"{change.address}: email mixes scripts or lookalike characters ({', '.join(map(describe, characters))}):"
            f" it {seen}is a different user",
        )
    ]
