"""Whether a change still fits the live account. IAM has no etags, so a change is stale when the
attributes its plan saw (`before`, the resource's id) are no longer what is live."""

from __future__ import annotations

from collections.abc import Mapping

from keyform.contract import Action, Change, LiveResource

CHECKS_BEFORE = (Action.UPDATE, Action.ADOPT, Action.REPLACE, Action.DELETE)


def moved(change: Change, live: Mapping[str, LiveResource]) -> str:
    """What moved since the plan, in a few words ("" if nothing did)."""
    current = live.get(change.live_address)  # a `moved:` rename: where the user is live now
    if change.action == Action.CREATE:
        return "it was created outside this plan" if current is not None else ""
    if current is None:
        return "it was deleted outside this plan"
    if change.id is not None and current.id != change.id:
        return f"it was replaced outside this plan (id {change.id}, now {current.id})"
    if change.action not in CHECKS_BEFORE:
        return ""
    before = change.before or {}
    changed = sorted(key for key, value in before.items() if current.attributes.get(key) != value)
    return f"{', '.join(changed)} changed outside this plan" if changed else ""
