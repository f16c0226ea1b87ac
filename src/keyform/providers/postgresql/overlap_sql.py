"""The SQL of each change to an overlap login role (see `overlap` for the design): lists of
statements the session runs in one transaction, so a change applies whole or not at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from keyform.contract import Change, GeneratedSecret
from keyform.providers.postgresql import statements
from keyform.providers.postgresql.overlap import (
    SUFFIXES,
    group_comment,
    half_comment,
    halves,
    other,
    overlap_seconds,
)

Steps = list[sql.Composable]


def _comment(role: str, text: str) -> sql.Composed:
    return sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(role), sql.Literal(text))


def _group_attributes(after: Mapping[str, Any]) -> dict[str, Any]:
    return {"attributes": after.get("attributes", ())}


def _login_attributes(after: Mapping[str, Any], *, valid_until: bool) -> dict[str, Any]:
    attributes = {"attributes": after.get("attributes", ()), "connection_limit": after.get("connection_limit", -1)}
    if valid_until:
        attributes["valid_until"] = after.get("valid_until")
    return attributes


def _secret_comment(name: str, secret: GeneratedSecret) -> str:
    return half_comment(name, secret.secret_id, secret.created_at.isoformat())


def _new_half(name: str, half: str, after: Mapping[str, Any], verifier: str, comment: str) -> Steps:
    """CREATE ROLE half LOGIN, member of `name` only, whose sessions act as `name`."""
    return [
        sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(half)),  # a leftover half of `name` (checked)
        statements.create(half, True, _login_attributes(after, valid_until=True), verifier),
        _comment(half, comment),
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(name), sql.Identifier(half)),
        sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(half), sql.Literal(name)),
    ]


def _both_halves(name: str, after: Mapping[str, Any], secret: GeneratedSecret, verifier: str) -> Steps:
    first, second = halves(name)
    return [
        _comment(name, group_comment(str(after["rotation_overlap"]), first)),
        *_new_half(name, first, after, verifier, _secret_comment(name, secret)),
        *_new_half(name, second, after, "", half_comment(name)),
    ]


def create(change: Change, database: str, secret: GeneratedSecret, verifier: str) -> Steps:
    """The group with its grants and memberships, and both halves; the first holds the password."""
    name, after = change.name, change.after or {}
    return [
        statements.create(name, False, _group_attributes(after)),
        *statements.memberships(name, (), after.get("member_of", ())),
        *statements.grants(name, database, (), after.get("grants", ())),
        *_both_halves(name, after, secret, verifier),
    ]


def to_overlap(change: Change, database: str, secret: GeneratedSecret, verifier: str) -> Steps:
    """A plain login role becomes the group (NOLOGIN, no password: it stops working at once) with halves."""
    name, before, after = change.name, change.before or {}, change.after or {}
    group = {**_group_attributes(after), "connection_limit": -1, "valid_until": None}
    return [
        statements.alter(name, group),
        sql.SQL("ALTER ROLE {} WITH NOLOGIN PASSWORD NULL").format(sql.Identifier(name)),
        *statements.memberships(name, before.get("member_of", ()), after.get("member_of", ())),
        *statements.grants(name, database, before.get("grants", ()), after.get("grants", ())),
        *_both_halves(name, after, secret, verifier),
    ]


def to_immediate(change: Change, database: str, secret: GeneratedSecret, verifier: str) -> Steps:
    """The halves are dropped; the group becomes a plain login role with the new password."""
    name, before, after = change.name, change.before or {}, change.after or {}
    return [
        *drop_halves(name),
        statements.alter(name, _login_attributes(after, valid_until=True)),
        sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(verifier)),
        statements.comment(name, secret.secret_id, secret.created_at.isoformat()),
        *statements.memberships(name, before.get("member_of", ()), after.get("member_of", ())),
        *statements.grants(name, database, before.get("grants", ()), after.get("grants", ())),
    ]


def update(change: Change, database: str, found: Mapping[str, tuple[str, Sequence[str]]], current: str) -> Steps:
    """Attributes, grants and memberships of an overlap login role; a half missing or changed out of
    band is recreated (without a password) or put back as a member of the group only. `found`: the
    halves that exist now, with their comment and memberships."""
    name, before, after = change.name, change.before or {}, change.after or {}
    steps: Steps = [statements.alter(name, _group_attributes(after))]
    steps += statements.memberships(name, before.get("member_of", ()), after.get("member_of", ()))
    steps += statements.grants(name, database, before.get("grants", ()), after.get("grants", ()))
    for suffix, half in zip(SUFFIXES, halves(name), strict=True):
        if half not in found:
            steps += _new_half(name, half, after, "", half_comment(name))
            continue
        if suffix not in before.get("logins", ()):
            steps += statements.memberships(half, found[half][1], [name])
            steps.append(sql.SQL("ALTER ROLE {} WITH LOGIN").format(sql.Identifier(half)))
            steps.append(sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(half), sql.Literal(name)))
        steps.append(statements.alter(half, _login_attributes(after, valid_until=half == current)))
    if before.get("rotation_overlap") != after.get("rotation_overlap"):
        steps.append(_comment(name, group_comment(str(after["rotation_overlap"]), current)))
    return steps


def rotate(change: Change, current: str, secret: GeneratedSecret, verifier: str) -> Steps:
    """The other half gets the new password and becomes current. With an overlap (phase add) the
    previous half keeps its password until VALID UNTIL = the overlap's end (server time, capped by
    the declared valid_until); otherwise (immediate, reissue) its password is cleared at once."""
    name, after = change.name, change.after or {}
    fresh = other(name, current)
    until = after.get("valid_until") or "infinity"
    steps: Steps = [
        sql.SQL("ALTER ROLE {} WITH PASSWORD {} VALID UNTIL {}").format(
            sql.Identifier(fresh), sql.Literal(verifier), sql.Literal(until)
        ),
        _comment(fresh, _secret_comment(name, secret)),
    ]
    if change.details.get("phase") == "add":
        steps.append(_valid_until(current, overlap_seconds(change), until))
    else:
        steps += clear(name, current)
    steps.append(_comment(name, group_comment(str(after.get("rotation_overlap")), fresh)))
    return steps


def clear(name: str, half: str) -> Steps:
    """A half's password gone (it can't log in with one) and its marker without a password."""
    cleared = sql.SQL("ALTER ROLE {} WITH PASSWORD NULL").format(sql.Identifier(half))
    return [cleared, _comment(half, half_comment(name))]


def _valid_until(half: str, seconds: int, cap: str) -> sql.Composed:
    """VALID UNTIL now() + seconds by the server's clock (ALTER ROLE takes only a literal: a DO block)."""
    body = (
        "BEGIN EXECUTE format('ALTER ROLE %I VALID UNTIL %L', "
        f"{_quoted(half)}, least(now() + make_interval(secs => {int(seconds)}), {_quoted(cap)}::timestamptz)); END"
    )
    return sql.SQL("DO {}").format(sql.Literal(body))


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def drop_halves(name: str) -> Steps:
    return [sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(half)) for half in halves(name)]
