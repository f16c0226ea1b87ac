"""The keyform server's rules the engine asks its provider for: risks beyond gained and lost
grants, what weakens an identity, the Account Owner invariant, what runs last, and the catalog
checks of a desired state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any

from keyform.catalog import REFERENCE_CATALOG, Catalog
from keyform.config.document import dotted
from keyform.config.hints import did_you_mean, quote
from keyform.contract import Action, Change, LiveResource, Risk, RiskCategory

if TYPE_CHECKING:
    from keyform.plan.plan import Plan

ROLE_RANK = {"standard": 0, "account_admin": 1, "account_owner": 2}

DataPath = tuple[str | int, ...]


def flag_risks(
    address: str, creating: bool, before: Mapping[str, Any], after: Mapping[str, Any], live_secret: str | None = None
) -> list[Risk]:
    """Risks of the server's flags; `live_secret` is the id of the resource's live secret (the
    engine's `details.live_secret`), which acts with a raised org role at once."""
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
            if live_secret and now("api_key_enabled") is not False and not now("archived"):
                active = "active " if now("api_key_enabled") is True else ""
                risks.append(
                    Risk(RiskCategory.ESCALATION, f"{address}: its {active}API key {live_secret} now acts as {new}")
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


def rotation_risks(change: Change) -> list[Risk]:
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


def weakens(change: Change) -> str:
    """How a change takes access away (deleted, disabled, demoted, archived), or ''."""
    before, after = change.before or {}, change.after or {}
    if change.action in (Action.DELETE, Action.REPLACE):
        return "deleted" if change.action == Action.DELETE else "replaced"
    if before.get("enabled") is True and after.get("enabled") is False:
        return "disabled"
    if before.get("api_key_enabled") is True and after.get("api_key_enabled") is False:
        return "disabled (API key)"
    if after.get("archived") and not before.get("archived"):
        return "archived"
    old, new = before.get("role"), after.get("role")
    if old in ROLE_RANK and new in ROLE_RANK and ROLE_RANK[new] < ROLE_RANK[old]:
        return f"demoted from {old} to {new}"
    return ""


def owner_problems(changes: Iterable[Change], live: Mapping[str, LiveResource]) -> list[str]:
    """The invariant: a plan never leaves the organisation without an active Account Owner whose
    API key works (the server's own rule: an owner without a working key can't switch api_access
    back on, so counting them would let a plan lock the organisation out)."""
    changes = [change for change in changes if change.kind == "users"]
    if not changes:  # the owners stay as they are: a plan that changes no user leaves none without one
        return []
    if _owners_after(changes, live) == 0 and any(_active_owner(res.attributes) for res in live.values()):
        return ["the organisation would be left without an active Account Owner with a working API key"]
    return []


def _owners_after(changes: list[Change], live: Mapping[str, LiveResource]) -> int:
    """Active Account Owners once the plan is applied (only the users it changes are copied)."""
    changed: dict[str, dict[str, Any] | None] = {}  # address -> attributes after the plan; None: deleted
    for change in changes:
        if change.kind != "users":
            continue
        if change.action == Action.DELETE:
            changed[change.address] = None
        elif change.after is not None:
            current = live.get(change.address)
            before = current.attributes if current is not None else None
            changed[change.address] = {**(changed.get(change.address, before) or {}), **change.after}
    unchanged = (r.attributes for a, r in live.items() if a not in changed and a.startswith("users/"))
    after = (attributes for attributes in changed.values() if attributes is not None)
    return sum(1 for attributes in chain(after, unchanged) if _active_owner(attributes))


def _active_owner(attributes: Mapping[str, Any]) -> bool:
    """An Account Owner who is not archived and whose API key is enabled."""
    return (
        attributes.get("role") == "account_owner"
        and not attributes.get("archived")
        and attributes.get("api_key_enabled") is True
    )


def runs_last(change: Change) -> bool:
    """api_access is switched off after everything else (and on before: the organisation comes first)."""
    return change.kind == "organization" and (change.after or {}).get("api_access") is False


def is_sensitive(grant: str, catalog: Catalog | None = REFERENCE_CATALOG) -> bool:
    """Write access anywhere and any sensitive attribute count as escalation."""
    scope, _, value = grant.partition(":")
    if scope == "attribute":
        return catalog is None or catalog.is_sensitive(value)
    return value == "write"


def catalog_problems(data: Mapping[str, Any], catalog: Catalog = REFERENCE_CATALOG) -> list[tuple[DataPath, str, bool]]:
    """Modules and attributes the catalog does not know, and write access to read-only modules."""
    problems: list[tuple[DataPath, str, bool]] = []
    for section in ("roles", "credentials"):
        for name, resource in _mapping(data.get(section)).items():
            path: DataPath = (section, name)
            resource = _mapping(resource)
            for module, levels in _mapping(resource.get("permissions")).items():
                where = (*path, "permissions", module)
                if module not in catalog.modules:
                    hint = did_you_mean(module, catalog.modules) or (f" (modules: {', '.join(catalog.modules)})")
                    problems.append((where, f"{dotted(path)}: unknown module {quote(module)}{hint}", True))
                elif catalog.is_read_only(module):
                    for index, level in _items(levels):
                        if level == "write":
                            problems.append(
                                (
                                    (*where, index),
                                    f"{dotted(where)}: module {quote(module)} is read only: remove 'write'",
                                    False,
                                )
                            )
            for index, attribute in _items(resource.get("attributes")):
                if isinstance(attribute, str) and attribute not in catalog.attributes:
                    hint = did_you_mean(attribute, catalog.attributes) or (
                        f" (attributes: {', '.join(catalog.attributes)})"
                    )
                    problems.append(
                        (
                            (*path, "attributes", index),
                            f"{dotted(path)}: unknown attribute {quote(attribute)}{hint}",
                            False,
                        )
                    )
    return problems


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


HOLDERS_SHOWN = 3


def roles_still_held(changes: Iterable[Change], live: Mapping[str, LiveResource]) -> list[str]:
    """Role deletes the server would refuse: a user or credential keeps the role after the plan
    (one keyform doesn't manage, or doesn't change). Predicted here rather than failing at apply."""
    changes = list(changes)
    deleted = {change.name for change in changes if change.kind == "roles" and change.action == Action.DELETE}
    if not deleted:
        return []
    after: dict[str, Mapping[str, Any] | None] = {}  # identity address -> attributes after the plan; None: deleted
    for change in changes:
        if change.kind in ("users", "credentials"):
            after[change.address] = None if change.action == Action.DELETE else change.after
    holders: dict[str, list[str]] = {}
    for address, resource in sorted(live.items()):
        attributes = after.get(address, resource.attributes)
        for role in (attributes or {}).get("roles") or ():
            if role in deleted:
                held = "unmanaged " if not resource.managed else ""
                holders.setdefault(role, []).append(f"{held}{address}")
    problems = []
    for role, who in sorted(holders.items()):
        problems.append(
            f"roles/{role} would be deleted but is still held by {_listed(who)}, and the API refuses to delete a"
            f" role in use: keep roles/{role} declared, or take the role away from"
            f" {who[0].removeprefix('unmanaged ') if len(who) == 1 else 'them'} first"
        )
    return problems


def _listed(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`, `a, b, c and 2 more`."""
    if len(items) > HOLDERS_SHOWN:
        return f"{', '.join(items[:HOLDERS_SHOWN])} and {len(items) - HOLDERS_SHOWN} more"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


class ServerRules:
    """The keyform server's rules as provider hooks: mixed into KeyformProvider (and into the
    tests' fake provider, so the planner's tests check the same rules)."""

    def risks(self, change: Change) -> list[Risk]:
        return flag_risks(
            change.address,
            change.action == Action.CREATE,
            change.before or {},
            change.after or {},
            change.details.get("live_secret"),
        )

    def rotation_risks(self, change: Change) -> list[Risk]:
        return rotation_risks(change)

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        return is_sensitive(grant)

    def weakens(self, change: Change) -> str:
        return weakens(change)

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        return roles_still_held(plan.changes, live) + owner_problems(plan.changes, live)

    def runs_last(self, change: Change) -> bool:
        return runs_last(change)
