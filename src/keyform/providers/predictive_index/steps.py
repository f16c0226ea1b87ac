"""The manual checklist for PI's Administration > User Management (PI v1 software).

Worded after PI's admin help page "Generating a PI API Key for PI v1": create the user, give
the details, open the user again, "Generate New Key", copy it with the icon beside the field;
generating a new key deactivates the previous one at once; only an Account Owner grants
Cognitive access; API access for the instance is switched by PI Support.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import Action, Change, Step

OWNER = "Account Owner"
OPEN = (
    "Log into PI (https://app.predictiveindex.com) as an Account Admin or Account Owner, open Administration "
    "(the menu under your name, upper right) > User Management"
)
ROLES = {"standard": "Standard", "account_admin": "Account Admin", "account_owner": "Account Owner"}
NEW_KEY_WARNING = "this deactivates the previous key at once: update every integration that uses it"
FIELDS = ("api_key",)


def steps(change: Change) -> list[Step]:
    """What a PI admin does in the UI to carry out `change`."""
    if change.kind == "organization":
        return _organization(change.after or {})
    email = change.name
    before, after = change.before or {}, change.after or {}
    if change.action in (Action.CREATE, Action.REPLACE):
        return _create(email, after)
    if change.action == Action.UPDATE:
        return [Step(text=f'{OPEN} and click "{email}" in the list of users.'), *_update(before, after), _save()]
    if change.action == Action.DELETE:
        return [
            Step(text=f'{OPEN}, click "{email}" and archive the user.'),
            Step(text="Confirm.", warning=f"{email}'s API key stops working at once"),
        ]
    if change.action == Action.ROTATE:
        return [Step(text=f'{OPEN} and click "{email}".'), _generate(), _after_generate()]
    return []


def _create(email: str, after: Mapping[str, Any]) -> list[Step]:
    role = after.get("role", "standard")
    steps = [
        Step(text=f'{OPEN} and click "Create New User".'),
        Step(
            text=f"First Name: {after.get('first_name')}; Last Name: {after.get('last_name')}; Email: {email} "
            "(no two users in the whole PI system may share an email)."
        ),
        Step(text=f"Job Title: {after.get('job_title') or '(leave empty)'}."),
        Step(text=f"Default Folder: {after.get('default_folder') or '(leave the suggestion)'}."),
        Step(text=f"Role: {ROLES[role]}.", only=OWNER if role == "account_owner" else ""),
        Step(text='Click "Create User"; you are taken back to the list of users.'),
    ]
    if after.get("cognitive_access"):
        steps.append(_cognitive(email, True))
    if after.get("api_key_enabled") is True:
        steps += [Step(text=f'Click "{email}" in the list to open the user again.'), _generate(), _after_generate()]
    return steps


def _update(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Step]:
    steps = []
    for field, label in (("first_name", "First Name"), ("last_name", "Last Name"), ("job_title", "Job Title")):
        if before.get(field) != after.get(field):
            steps.append(Step(text=f"{label}: {after.get(field) or '(clear it)'}."))
    if before.get("default_folder") != after.get("default_folder"):
        steps.append(Step(text=f"Default Folder: {after.get('default_folder') or '(clear it)'}."))
    if before.get("role") != after.get("role"):
        role = after.get("role", "standard")
        steps.append(
            Step(text=f"Role: {ROLES[role]}.", only=OWNER if "account_owner" in (role, before.get("role")) else "")
        )
    if before.get("cognitive_access") != after.get("cognitive_access"):
        steps.append(_cognitive("", bool(after.get("cognitive_access"))))
    if after.get("archived") and not before.get("archived"):
        steps.append(Step(text="Archive the user.", warning="the user's API key stops working at once"))
    elif before.get("archived") and not after.get("archived"):
        steps.append(Step(text="Restore (unarchive) the user."))
    key_before, key_after = before.get("api_key_enabled"), after.get("api_key_enabled")
    if key_before is not True and key_after is True:
        steps += [_generate(), _after_generate()]
    elif key_before is True and key_after is False:
        steps.append(
            Step(
                text='Click "Generate New Key" and do NOT copy the new key: PI has no switch to disable a key, '
                "so a key nobody holds replaces it.",
                warning=NEW_KEY_WARNING,
            )
        )
    return steps


def _organization(after: Mapping[str, Any]) -> list[Step]:
    on = after.get("api_access")
    if on is None:
        return []
    verb = "turned on" if on else "turned off"
    return [
        Step(
            text=f'Ask Predictive Index Support: "Please ensure that API Access is {verb} for our PI instance named '
            '___" (only PI Support can switch it).',
            only="PI Support",
            warning="" if on else "every API key of the instance stops working",
        )
    ]


def _cognitive(email: str, grant: bool) -> Step:
    who = f' "{email}"' if email else ""
    verb = "tick" if grant else "untick"
    return Step(
        text=f"Open the user{who} and {verb} the Cognitive access checkbox, then Save Changes "
        "(an Account Admin can't: ask an Account Owner).",
        only=OWNER,
    )


def _generate() -> Step:
    return Step(
        text='At the bottom of the user\'s details, click "Generate New Key" and copy the new key now with the '
        "icon next to the API Key field.",
        warning=NEW_KEY_WARNING,
        enter=FIELDS,
    )


def _after_generate() -> Step:
    return Step(
        text='Click "Cancel" if "Save Changes" is disabled (a generated key is saved at once), else "Save Changes".'
    )


def _save() -> Step:
    return Step(text='Click "Save Changes".')
