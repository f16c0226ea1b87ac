"""Rotation with overlap for login roles: PostgreSQL has one password per role, so a login role
declared with `password.rotation_overlap` is realised as three roles.

- `NAME`, a NOLOGIN role holding everything the spec declares (grants, memberships, role
  attributes) and owning what its logins create;
- `NAME_a` and `NAME_b`, LOGIN roles, members of `NAME` only, with `ALTER ROLE ... SET role = NAME`
  so a session's objects belong to `NAME`, not to one half.

Exactly one half is current (the group's comment says which): the sink entry holds its user and
password. A rotation sets a fresh password on the other half and makes it current, and sets the
previous half's VALID UNTIL to the overlap's end plus GRACE, so PostgreSQL refuses the old password
then even if no apply runs; the next apply after the overlap also clears it (PASSWORD NULL). Each
change is one transaction. The engine sees one `login_roles/NAME` with up to two live passwords; its
`logins` attribute lists the intact halves by suffix (`[_a, _b]`), so a broken half is drift.

This module knows the names, the comments and how the catalog folds into one live resource; it
does not import psycopg (`overlap_sql` builds the statements).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from keyform.config.durations import parse_duration
from keyform.contract import Action, Change, LiveResource, Risk, RiskCategory
from keyform.model import format_duration

if TYPE_CHECKING:
    from keyform.providers.postgresql.catalog import Catalog, Role

MARKER = "managed by keyform"
GROUP_MARKER = f"{MARKER}; login role with rotation overlap "  # + "<duration>; current <half>"
SUFFIXES = ("_a", "_b")
MAX_NAME = 63 - len(SUFFIXES[0])  # NAME_a must fit PostgreSQL's 63 characters
GRACE = timedelta(minutes=1)  # VALID UNTIL comes this long after the overlap's end (clock skew)
OPEN_SESSIONS = "sessions already open stay connected"


def halves(name: str) -> tuple[str, str]:
    """The two login roles of `name`."""
    return (name + SUFFIXES[0], name + SUFFIXES[1])


def other(name: str, half: str) -> str:
    """The half of `name` that is not `half`."""
    first, second = halves(name)
    return second if half == first else first


def duration(spec: Mapping[str, Any]) -> str | None:
    """The spec's `password.rotation_overlap`, written canonically (`60m` -> `1h`), or None."""
    value = (spec.get("password") or {}).get("rotation_overlap")
    if value is None:
        return None
    try:
        return format_duration(parse_duration(str(value)))
    except ValueError:
        return str(value)  # keyform validate reports it


def group_comment(overlap: str, current: str) -> str:
    return f"{GROUP_MARKER}{overlap}; current {current}"


def half_comment(name: str, secret_id: str = "", created_at: str = "") -> str:
    """A half's marker; with the id and time of its password while it has one."""
    text = f"{MARKER}; login of {name}"
    return f"{text}; password {secret_id} set {created_at}" if secret_id else text


def parse_group(comment: str) -> tuple[str, str] | None:
    """(overlap, current half) from a group's comment, or None if it is no overlap login role."""
    if not comment.startswith(GROUP_MARKER):
        return None
    overlap, _, current = comment[len(GROUP_MARKER) :].partition("; current ")
    return overlap, current


def is_half_of(role: Role | None, name: str) -> bool:
    return role is not None and role.comment.startswith(f"{MARKER}; login of {name}")


# -- read ---------------------------------------------------------------------------------------


def fold(catalog: Catalog, live: Callable[[Role], LiveResource]) -> tuple[dict[str, LiveResource], set[str]]:
    """The overlap login roles as one `login_roles/NAME` each, and the role names they account for.

    `live(role)` is the provider's plain reading of one role. The live `logins` lists the halves
    that are intact (LOGIN, member of NAME only, no grants of their own, NAME's role attributes, the
    same connection limit): a half changed out of band or missing is drift the plan shows.
    """
    found: dict[str, LiveResource] = {}
    consumed: set[str] = set()
    for group in catalog.roles.values():
        parsed = parse_group(group.comment)
        if parsed is None:
            continue
        overlap, current_name = parsed
        current = catalog.roles.get(current_name)
        mine = [catalog.roles[h] for h in halves(group.name) if is_half_of(catalog.roles.get(h), group.name)]
        consumed.update({group.name, *(half.name for half in mine)})
        base = live(group)
        attributes = dict(base.attributes)
        plain = live(current) if current is not None and current in mine else None
        attributes["connection_limit"] = plain.attributes["connection_limit"] if plain else -1
        attributes["valid_until"] = plain.attributes["valid_until"] if plain else None
        attributes["rotation_overlap"] = overlap
        intact = {h.name for h in mine if _intact(h, group, attributes["connection_limit"])}
        attributes["logins"] = [suffix for suffix in SUFFIXES if group.name + suffix in intact]
        ordered = sorted(mine, key=lambda half: half.name == current_name)  # the retiring one first
        secrets = tuple(secret for half in ordered for secret in live(half).secrets)
        address = f"login_roles/{group.name}"
        found[address] = LiveResource(address, attributes, group.name, group.etag, True, secrets)
    return found, consumed


def _intact(half: Role, group: Role, connection_limit: int) -> bool:
    return (
        half.login
        and half.member_of == [group.name]
        and not half.grants
        and sorted(half.attributes) == sorted(group.attributes)
        and half.connection_limit == connection_limit
    )


def current_of(comment: str | None, name: str) -> str:
    """The current half by the group's comment (the first half if the comment names none)."""
    parsed = parse_group(comment or "")
    if parsed is not None and parsed[1] in halves(name):
        return parsed[1]
    return halves(name)[0]


# -- validate -----------------------------------------------------------------------------------


def check_document(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """Overlap login roles whose name is too long, or whose logins' names another role takes."""
    problems: list[tuple[tuple[str | int, ...], str, bool]] = []
    declared = {name for kind in ("login_roles", "group_roles") for name in (data.get(kind) or {})}
    for name, spec in (data.get("login_roles") or {}).items():
        if duration(spec or {}) is None:
            continue
        where: tuple[str | int, ...] = ("login_roles", name, "password", "rotation_overlap")
        if len(str(name)) > MAX_NAME:
            message = (
                f"a login role with rotation_overlap has logins {name}_a and {name}_b, longer than PostgreSQL "
                f"allows: shorten the name to at most {MAX_NAME} characters, or remove rotation_overlap"
            )
            problems.append((where, message, True))
        first, second = halves(str(name))
        for half in (first, second):
            if half in declared:
                message = f"its logins are {first} and {second}, and {half} is declared too: rename one of them"
                problems.append((where, message, True))
    return problems


# -- plans --------------------------------------------------------------------------------------


def style_switch(change: Change) -> str:
    """ "to-overlap", "to-immediate" or "" for an update or adopt of a login role."""
    if change.kind != "login_roles" or change.action not in (Action.UPDATE, Action.ADOPT):
        return ""
    before = (change.before or {}).get("rotation_overlap")
    after = (change.after or {}).get("rotation_overlap")
    if (before is None) == (after is None):
        return ""
    return "to-overlap" if after is not None else "to-immediate"


def switch_risk(change: Change) -> list[Risk]:
    """A style switch is breaking: the login in use stops working at once."""
    name, switch = change.name, style_switch(change)
    first, second = halves(name)
    if switch == "to-overlap":
        message = (
            f"{change.address}: becomes group role {name} with logins {first} and {second} (rotation with overlap); "
            f"login {name} stops working at once, the new password logs in as {first}; {OPEN_SESSIONS}"
        )
    elif switch == "to-immediate":
        message = (
            f"{change.address}: logins {first} and {second} are dropped and stop working at once; the new password "
            f"logs in as {name} (immediate rotation); {OPEN_SESSIONS}"
        )
    else:
        return []
    return [Risk(RiskCategory.BREAKING, message)]


def rotation_risks(change: Change, current: str, valid_until: str | None) -> list[Risk]:
    """Which login stops working when, for a rotation of an overlap login role whose current half
    is `current` (`valid_until`: the declared one, which caps the overlap)."""
    phase, old = change.details.get("phase"), change.details.get("old_secret", "the current one")
    fresh = other(change.name, current)  # the half a rotation sets; during an overlap, the retiring one
    if phase == "add":
        until = change.details.get("old_secret_until") or "the overlap's end"
        message = (
            f"{change.address}: the new password logs in as {fresh}; login {current} (password {old}) stops "
            f"working at about {until} ({change.details.get('overlap', 'the overlap')} overlap: PostgreSQL refuses "
            f"it from its VALID UNTIL, {format_duration(GRACE)} later, and the next apply clears it); {OPEN_SESSIONS}"
        )
        if valid_until:
            message += f"; both stop at the declared valid_until {valid_until} at the latest"
    elif phase == "revoke":
        retiring = fresh
        message = f"{change.address}: login {retiring} (password {old}) stops working now: its overlap is over"
    else:
        message = (
            f"{change.address}: the new password logs in as {fresh}; login {current} (password {old}) stops "
            f"working at once; {OPEN_SESSIONS}"
        )
    return [Risk(RiskCategory.BREAKING, message)]


def overlap_seconds(change: Change) -> int:
    """The rotation's overlap, plus GRACE, in seconds (for VALID UNTIL)."""
    overlap = parse_duration(str(change.details.get("overlap") or (change.after or {}).get("rotation_overlap")))
    return int((overlap + GRACE).total_seconds())


def taken_names(change: Change, catalog: Catalog) -> list[str]:
    """A change that makes the two logins of NAME while a role not made for it has one's name."""
    after = change.after or {}
    if change.kind != "login_roles" or after.get("rotation_overlap") is None:
        return []
    problems = []
    for half in halves(change.name):
        role = catalog.roles.get(half)
        if role is not None and not is_half_of(role, change.name):
            problems.append(
                f"{change.address}: its logins are {' and '.join(halves(change.name))}, and role {half} already "
                f"exists: rename login_roles.{change.name}, or rename or drop role {half}"
            )
    return problems
