"""Safety checks on a plan: thresholds (overridable) and invariants (never overridable)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from keyform.contract import Action, Change, LiveResource, Provider, kind_of
from keyform.errors import UnsafePlanError
from keyform.model import Safety
from keyform.plan.plan import Plan

MIN_KIND_SIZE = 10  # max_delete_fraction applies to kinds with at least this many managed resources


def check_safety(
    plan: Plan,
    live: Mapping[str, LiveResource],
    safety: Safety,
    *,
    provider: Provider,
    identity: str | None,
    allow_unsafe: bool,
) -> None:
    """Raise UnsafePlanError naming every violated rule and its numbers: the thresholds (unless
    `allow_unsafe`), the identity keyform runs as, and the provider's invariants."""
    invariants = _invariant_problems(plan, live, identity, provider)
    thresholds = [] if allow_unsafe else _threshold_problems(plan, live, safety, provider)
    if thresholds or invariants:
        raise UnsafePlanError(thresholds, invariants)


def _threshold_problems(plan: Plan, live: Mapping[str, LiveResource], safety: Safety, provider: Provider) -> list[str]:
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
        if change.address in protected and (what := provider.weakens(change)):
            problems.append(f"protected {change.address} would be {what}")
    return problems


def _invariant_problems(
    plan: Plan, live: Mapping[str, LiveResource], identity: str | None, provider: Provider
) -> list[str]:
    problems = []
    for change in plan.changes:
        if identity and change.address == identity:
            what = provider.weakens(change) or (_new_secret(provider, change) if change.action == Action.ROTATE else "")
            if what:
                problems.append(f"{identity} is the identity keyform is running as and would be {what}")
    return problems + provider.invariants(plan, live)


def _new_secret(provider: Provider, change: Change) -> str:
    kind = kind_of(type(provider), change.kind)
    noun = kind.secret.noun if kind is not None and kind.secret is not None else "secret"
    return f"given a new {noun}"
