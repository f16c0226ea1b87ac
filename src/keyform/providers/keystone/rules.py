"""The keystone provider's rules: risks beyond gained and lost grants, what weakens a user, what
runs last, and the checks of a desired state that Keystone would refuse less clearly (or not at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from keyform.config.durations import parse_duration
from keyform.contract import Action, Change, Risk, RiskCategory
from keyform.providers.keystone.canonical import implied_by
from keyform.providers.keystone.kinds import SECRET_NOUN

CREDENTIALS = "application_credentials"
# Keystone's bootstrap roles and what they imply (keystone-manage bootstrap, Keystone 2023.2 on).
BUILT_IN_IMPLIES: dict[str, list[str]] = {"admin": ["manager"], "manager": ["member"], "member": ["reader"]}
BUILT_IN_ROLES = frozenset({"admin", "manager", "member", "reader", "service"})
NEW_SECRET = (Action.CREATE, Action.REPLACE, Action.ADOPT)

DataPath = tuple[str | int, ...]


# -- risks ----------------------------------------------------------------------------------------


def risks(change: Change) -> list[Risk]:
    before, after = change.before or {}, change.after or {}
    if change.kind == CREDENTIALS and change.action in NEW_SECRET:
        return credential_risks(change.address, change.action, before, after)
    if change.action == Action.DELETE:
        return []  # the engine says what a delete takes away
    found = []
    if change.kind == "users" and change.action != Action.CREATE and before.get("enabled") and not after["enabled"]:
        found.append(
            Risk(
                RiskCategory.BREAKING, f"{change.address} disabled: every application credential it owns stops working"
            )
        )
    if change.kind == "roles":
        gained = sorted(set(after.get("implies") or ()) - set(before.get("implies") or ()))
        if gained and change.action != Action.CREATE:
            message = f"{change.address} now implies {', '.join(gained)}: whoever holds it gains them"
            found.append(Risk(RiskCategory.ESCALATION, message))
    return found


def credential_risks(address: str, action: Action, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Risk]:
    found = [acting_as_owner(address, after)]
    if action == Action.ADOPT:
        message = (
            f"{address}: keyform can't mark a live application credential as its own: it creates a successor "
            "and deletes the current one, which stops working at once"
        )
        found.append(Risk(RiskCategory.BREAKING, message))
    if after.get("unrestricted") and not (before.get("unrestricted") and action != Action.CREATE):
        message = f"{address} is unrestricted: it can create application credentials and trusts of its own"
        found.append(Risk(RiskCategory.ESCALATION, message))
    if after.get("expires_at") is None and (action == Action.CREATE or before.get("expires_at") is not None):
        found.append(Risk(RiskCategory.ESCALATION, f"{address} never expires (no expires_at)"))
    if action != Action.CREATE:
        widened = access_widened(before.get("access_rules") or [], after.get("access_rules") or [])
        if widened:
            found.append(Risk(RiskCategory.ESCALATION, f"{address}: access rules widened: {widened}"))
    return found


def access_widened(old: list[Mapping[str, str]], new: list[Mapping[str, str]]) -> str:
    """What a new rule list allows that the old one didn't, in words ("" if nothing)."""
    if old and not new:
        return "all removed, so it may call every API its roles allow"
    added = [rule for rule in new if rule not in old]
    return ", ".join(f"{r['service']} {r['method']} {r['path']}" for r in added) if old else ""


def acting_as_owner(address: str, after: Mapping[str, Any]) -> Risk:
    """How keyform creates a credential (docs/providers/keystone.md): the plan says it on every one."""
    owner = after.get("owner")
    return Risk(
        RiskCategory.BREAKING,
        f"{address}: keyform acts as its owner users/{owner}: it sets that user a one-time password (kept in "
        "memory only), which revokes the owner's live tokens (clients of its credentials log in again)",
    )


def rotation_risks(change: Change, now: datetime | None = None) -> list[Risk]:
    phase, old = change.details.get("phase"), change.details.get("old_secret", "the current one")
    address = change.address
    if phase == "revoke":
        return [
            Risk(RiskCategory.BREAKING, f"{address}: {SECRET_NOUN} {old} stops working now (rotation overlap over)")
        ]
    owner = acting_as_owner(address, change.after or {})
    if phase == "add":
        overlap = str(change.details.get("overlap", ""))
        until = (now or datetime.now(UTC)) + parse_duration(overlap)
        message = (
            f"{address}: new {SECRET_NOUN}; the current one ({old}) keeps working for {overlap}, until about "
            f"{until:%Y-%m-%d %H:%M} UTC; the first apply after that deletes it"
        )
        return [Risk(RiskCategory.BREAKING, message), owner]
    if phase in ("immediate", "reissue"):
        return [
            Risk(RiskCategory.BREAKING, f"{address}: new {SECRET_NOUN}; the current one ({old}) stops working at once"),
            owner,
        ]
    return []


def weakens(change: Change) -> str:
    before, after = change.before or {}, change.after or {}
    if change.action in (Action.DELETE, Action.REPLACE):
        return "deleted" if change.action == Action.DELETE else "replaced"
    if before.get("enabled") is True and after.get("enabled") is False:
        return "disabled"
    return ""


def runs_last(change: Change) -> bool:
    """Credentials are made after every user and role change (their owner and roles must exist)."""
    return change.kind == CREDENTIALS and change.action != Action.DELETE


# -- the desired state ----------------------------------------------------------------------------


def check_document(data: Mapping[str, Any]) -> list[tuple[DataPath, str, bool]]:
    """Owners, roles and role subsets: what Keystone would refuse halfway through an apply."""
    roles = _mapping(data.get("roles"))
    users = _mapping(data.get("users"))
    projects = _mapping(data.get("projects"))
    implies = {**BUILT_IN_IMPLIES, **{name: list(_mapping(spec).get("implies") or ()) for name, spec in roles.items()}}
    known_roles = BUILT_IN_ROLES | set(roles)
    problems: list[tuple[DataPath, str, bool]] = []
    for name, spec in roles.items():
        for index, role in enumerate(_mapping(spec).get("implies") or ()):
            problems += _unknown_role(("roles", name, "implies", index), role, known_roles)
    for name, spec in users.items():
        for project, held in _mapping(_mapping(spec).get("projects")).items():
            if project not in projects:
                message = f"users.{name}.projects: unknown project {project!r}: declare it under projects:"
                problems.append((("users", name, "projects", project), message, True))
            for index, role in enumerate(held or ()):
                problems += _unknown_role(("users", name, "projects", project, index), role, known_roles)
    for name, spec in _mapping(data.get(CREDENTIALS)).items():
        problems += _credential_problems(name, _mapping(spec), users, implies, known_roles)
    return problems


def _credential_problems(
    name: str,
    spec: Mapping[str, Any],
    users: Mapping[str, Any],
    implies: Mapping[str, list[str]],
    known: frozenset[str],
) -> list[tuple[DataPath, str, bool]]:
    where: DataPath = (CREDENTIALS, name)
    project: Any  # whatever the YAML declares (None when absent)
    owner, project, wanted = spec.get("owner"), spec.get("project"), list(spec.get("roles") or ())
    problems: list[tuple[DataPath, str, bool]] = []
    for index, role in enumerate(wanted):
        problems += _unknown_role((*where, "roles", index), role, known)
    if not isinstance(owner, str):
        return problems
    if owner not in users:
        message = (
            f"{CREDENTIALS}.{name}.owner: unknown user {owner!r}: declare it under users: "
            "(keyform creates credentials only for the service users it manages)"
        )
        return [*problems, ((*where, "owner"), message, False)]
    held = list(_mapping(_mapping(users[owner]).get("projects")).get(project) or ())
    reach = set(held) | implied_by(held, implies)
    for index, role in enumerate(wanted):
        if role in known and role not in reach:
            message = (
                f"{CREDENTIALS}.{name}.roles: owner users/{owner} doesn't hold {role} on project {project}: "
                f"grant it in users.{owner}.projects.{project} or drop it from roles"
            )
            problems.append(((*where, "roles", index), message, False))
    redundant = sorted(set(wanted) & implied_by(wanted, implies))
    if redundant:
        message = (
            f"{CREDENTIALS}.{name}.roles: {', '.join(redundant)} is implied by another listed role "
            "(Keystone adds implied roles by itself): drop it"
        )
        problems.append(((*where, "roles"), message, False))
    return problems


def _unknown_role(path: DataPath, role: Any, known: frozenset[str]) -> list[tuple[DataPath, str, bool]]:
    if not isinstance(role, str) or role in known:
        return []
    where = ".".join(str(part) for part in path[:-1])
    message = (
        f"{where}: unknown role {role!r}: declare it under roles: (Keystone's own: {', '.join(sorted(BUILT_IN_ROLES))})"
    )
    return [(path, message, False)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
