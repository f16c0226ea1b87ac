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
    problems = _invariant_problems(plan, live, identity)
    if not allow_unsafe:
        problems = _threshold_problems(plan, live, safety) + problems
    if problems:
        hint = (
            "" if allow_unsafe or not _has_threshold(problems) else " (re-run with --allow-unsafe if this is intended)"
        )
        raise UnsafePlanError("unsafe plan: " + "; ".join(problems) + hint)


def _has_threshold(problems: list[str]) -> bool:
    return any(p.startswith(("would delete", "protected")) for p in problems)


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
    if _owners_after(plan, live) == 0 and any(res.attributes.get("role") == "account_owner" for res in live.values()):
        problems.append("the organisation would be left without an active Account Owner")
    return problems


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
