"""Safety checks on a plan: thresholds (overridable) and invariants (never overridable)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import chain
from typing import Any

from keyform.errors import UnsafePlanError
from keyform.model import Safety
from keyform.plan.changes import Action, Change
from keyform.plan.plan import Plan
from keyform.plan.risks import ROLE_RANK
from keyform.providers.base import LiveResource

MIN_KIND_SIZE = 10  # max_delete_fraction applies to kinds with at least this many managed resources


def check_safety(
    plan: Plan, live: Mapping[str, LiveResource], safety: Safety, *, identity: str | None, allow_unsafe: bool
) -> None:
    """Raise UnsafePlanError naming every violated rule and its numbers."""
    invariants = _invariant_problems(plan, live, identity)
    thresholds = [] if allow_unsafe else _threshold_problems(plan, live, safety)
    if thresholds or invariants:
        raise UnsafePlanError("unsafe plan: " + "; ".join(thresholds + invariants) + _hint(thresholds, invariants))


def _hint(thresholds: list[str], invariants: list[str]) -> str:
    """What --allow-unsafe can do about these problems: it overrides thresholds, never invariants."""
    if not invariants:
        return " (re-run with --allow-unsafe if this is intended)"
    if not thresholds:
        return " (--allow-unsafe does not override this)"
    return " (--allow-unsafe overrides only the safety thresholds, not the rest)"


def _threshold_problems(plan: Plan, live: Mapping[str, LiveResource], safety: Safety) -> list[str]:
    problems = []
    deletes = Counter(c.kind for c in plan.changes if c.action in (Action.DELETE, Action.REPLACE))
    managed = Counter(a.split("/", 1)[0] for a, res in live.items() if res.managed and "/" in a) if deletes else {}
    for kind, count in sorted(deletes.items()):
        total = managed.get(kind, 0)
        if total >= MIN_KIND_SIZE and count / total > safety.max_delete_fraction:
            problems.append(
                f"would delete {count} of {total} managed {kind} ({count / total:.0%}), "
                f"over safety.max_delete_fraction {safety.max_delete_fraction:.0%}"
            )
    protected = set(safety.protect)
    for change in plan.changes:
        if change.address in protected and (what := _weakens(change)):
            problems.append(f"protected {change.address} would be {what}")
    return problems


def _invariant_problems(plan: Plan, live: Mapping[str, LiveResource], identity: str | None) -> list[str]:
    problems = []
    for change in plan.changes:
        if identity and change.address == identity:
            what = _weakens(change) or ("given a new API key" if change.action == Action.ROTATE else "")
            if what:
                problems.append(f"{identity} is the identity keyform is running as and would be {what}")
    problems += _roles_still_held(plan, live)
    if _owners_after(plan, live) == 0 and any(res.attributes.get("role") == "account_owner" for res in live.values()):
        problems.append("the organisation would be left without an active Account Owner")
    return problems


HOLDERS_SHOWN = 3


def _roles_still_held(plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
    """Role deletes the API would refuse: a user or credential keeps the role after the plan
    (one keyform doesn't manage, or doesn't change). Predicted here rather than failing at apply."""
    deleted = {change.name for change in plan.changes if change.kind == "roles" and change.action == Action.DELETE}
    if not deleted:
        return []
    after: dict[str, Mapping[str, Any] | None] = {}  # identity address -> attributes after the plan; None: deleted
    for change in plan.changes:
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


def _weakens(change: Change) -> str:
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


def _owners_after(plan: Plan, live: Mapping[str, LiveResource]) -> int:
    """Active Account Owners once the plan is applied (only the users it changes are copied)."""
    changed: dict[str, dict[str, Any] | None] = {}  # address -> attributes after the plan; None: deleted
    for change in plan.changes:
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
    return attributes.get("role") == "account_owner" and not attributes.get("archived")
