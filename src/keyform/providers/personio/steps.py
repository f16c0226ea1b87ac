"""The manual checklist for Personio's credentials drawer (Settings > API credentials).

Worded after Personio's admin help page on API key management: a drawer per credential with a
unique name, an optional marketplace integration (informative only), the enabled switch at the
top, read/write boxes per module at the bottom, then the employee attributes (one list for read
and write), and a client id and secret generated automatically and copied with the Copy button.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import Action, Change, Step

OPEN = "In Personio, open Settings > API credentials"
SECRET_ONCE = (
    "Copy the client ID and the client secret now with the Copy buttons in the drawer: the secret is shown once"
)
FIELDS = ("client_id", "client_secret")


def steps(change: Change) -> list[Step]:
    """What a Personio admin does in the UI to carry out `change`."""
    name = change.name
    after, before = change.after or {}, change.before or {}
    if change.action in (Action.CREATE, Action.REPLACE):
        return _create(name, name, after)
    if change.action == Action.UPDATE:
        return [Step(text=f'{OPEN} and click "{name}" to open its drawer.'), *_update(before, after), _save()]
    if change.action == Action.DELETE:
        return [
            Step(text=f'{OPEN}, click "{name}" and delete the credentials.'),
            Step(
                text="Confirm the deletion.",
                warning=f"every integration using {name}'s client ID stops working at once",
            ),
        ]
    if change.action == Action.ROTATE:
        return _rotate(change, before or after)
    return []


def _create(name: str, label: str, after: Mapping[str, Any]) -> list[Step]:
    integration = after.get("integration") or ""
    steps = [
        Step(text=f'{OPEN} and click "Generate new credentials".'),
        Step(text=f'Name: "{label}" (names are unique in Personio).'),
        Step(
            text=f'Integration: select "{integration}" (informative only).'
            if integration
            else "Integration: leave it empty."
        ),
        Step(text=f"Permissions (boxes at the bottom of the drawer): {_boxes(after.get('permissions') or {})}."),
        Step(text=f"Employee attributes: {_attributes(after.get('attributes') or [])}."),
    ]
    if after.get("enabled") is False:
        steps.append(Step(text="Switch the credentials to disabled at the top of the drawer."))
    steps += [Step(text=SECRET_ONCE + ".", enter=FIELDS), _save()]
    return steps


def _update(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Step]:
    steps = []
    if before.get("integration") != after.get("integration"):
        integration = after.get("integration") or ""
        steps.append(Step(text=f'Integration: select "{integration}".' if integration else "Integration: clear it."))
    if before.get("enabled") != after.get("enabled"):
        state = "enabled" if after.get("enabled") else "disabled"
        warning = "" if after.get("enabled") else "integrations using these credentials stop working at once"
        steps.append(Step(text=f"Switch the credentials to {state} at the top of the drawer.", warning=warning))
    old, new = _levels(before.get("permissions") or {}), _levels(after.get("permissions") or {})
    if old != new:
        parts = [f"tick {', '.join(sorted(new - old))}" if new - old else ""]
        parts.append(f"untick {', '.join(sorted(old - new))}" if old - new else "")
        steps.append(Step(text=f"Permissions: {'; '.join(p for p in parts if p)}."))
    old_attributes, new_attributes = set(before.get("attributes") or ()), set(after.get("attributes") or ())
    if old_attributes != new_attributes:
        parts = [
            f"select {', '.join(sorted(new_attributes - old_attributes))}" if new_attributes - old_attributes else ""
        ]
        parts.append(
            f"deselect {', '.join(sorted(old_attributes - new_attributes))}" if old_attributes - new_attributes else ""
        )
        steps.append(Step(text=f"Employee attributes: {'; '.join(p for p in parts if p)}."))
    return steps


def _rotate(change: Change, attributes: Mapping[str, Any]) -> list[Step]:
    name, phase = change.name, change.details.get("phase")
    old = change.details.get("old_secret") or "the current one"
    delete_old = Step(
        text=f'{OPEN}, click the credentials "{name}" with client ID {old} and delete them.',
        warning=f"whatever still uses client ID {old} stops working at once: update every integration first",
    )
    if phase == "revoke":
        return [delete_old, Step(text=f'Rename the remaining credentials "{name} (new)" to "{name}".'), _save()]
    steps = _create(name, f"{name} (new)", attributes)
    if phase == "add":
        overlap = change.details.get("overlap") or "the rotation overlap"
        steps.append(Step(text=f"Keep the old pair ({old}) for {overlap}: keyform plans its deletion afterwards."))
        return steps
    return [*steps, delete_old, Step(text=f'Rename "{name} (new)" to "{name}".'), _save()]


def _save() -> Step:
    return Step(text="Save and close the drawer.")


def _levels(permissions: Mapping[str, Any]) -> set[str]:
    return {f"{module} {level.capitalize()}" for module, levels in permissions.items() for level in levels}


def _boxes(permissions: Mapping[str, Any]) -> str:
    ticked = sorted(_levels(permissions))
    return f"tick {', '.join(ticked)}; leave every other box unticked" if ticked else "leave every box unticked"


def _attributes(names: Any) -> str:
    names = sorted(names)
    if not names:
        return "select none"
    return f"select exactly {', '.join(names)} (nothing else: read and write share this list)"
