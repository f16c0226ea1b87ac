"""The SQL of each change, built with psycopg.sql (identifiers quoted, privileges from fixed lists)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import sql

from keyform.providers.postgresql.kinds import ATTRIBUTES, default_target

MARKER = "managed by keyform"


def comment(role: str, secret_id: str = "", created_at: str = "") -> sql.Composed:
    """COMMENT ON ROLE: keyform's ownership marker, with the live password's id and time if any."""
    text = f"{MARKER}; password {secret_id} set {created_at}" if secret_id else MARKER
    return sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(role), sql.Literal(text))


def create(role: str, login: bool, attributes: Mapping[str, Any], verifier: str = "") -> sql.Composed:
    """CREATE ROLE with its attributes (and a password verifier for a login role)."""
    options = [sql.SQL("LOGIN" if login else "NOLOGIN"), *_attributes(attributes)]
    if verifier:
        options.append(sql.SQL("PASSWORD {}").format(sql.Literal(verifier)))
    return sql.SQL("CREATE ROLE {} WITH {}").format(sql.Identifier(role), sql.SQL(" ").join(options))


def alter(role: str, attributes: Mapping[str, Any]) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(role), sql.SQL(" ").join(_attributes(attributes)))


def password(role: str, verifier: str) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))


def _attributes(attributes: Mapping[str, Any]) -> list[sql.Composable]:
    held = set(attributes.get("attributes", ()))
    options: list[sql.Composable] = [sql.SQL(name if name in held else "NO" + name) for name in ATTRIBUTES]
    if "connection_limit" in attributes:
        options.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(attributes["connection_limit"]))))
    if "valid_until" in attributes:
        options.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(attributes["valid_until"] or "infinity")))
    return options


def memberships(role: str, before: Iterable[str], after: Iterable[str]) -> list[sql.Composed]:
    """GRANT and REVOKE of group roles, from what the role is a member of to what it should be."""
    old, new = set(before), set(after)
    grant = [sql.SQL("GRANT {} TO {}").format(sql.Identifier(g), sql.Identifier(role)) for g in sorted(new - old)]
    revoke = [sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(g), sql.Identifier(role)) for g in sorted(old - new)]
    return revoke + grant


def grants(role: str, database: str, before: Iterable[str], after: Iterable[str]) -> list[sql.Composed]:
    """GRANT and REVOKE statements taking the role's privileges from `before` to `after`."""
    old, new = set(before), set(after)
    revoke = [_grant(g, role, database, revoke=True) for g in sorted(old - new)]
    return revoke + [_grant(g, role, database, revoke=False) for g in sorted(new - old)]


def _grant(grant: str, role: str, database: str, *, revoke: bool) -> sql.Composed:
    on, _, rest = grant.partition(":")
    target, _, privilege = rest.rpartition(":")
    if on == "database":
        target = database
    if on == "default":
        return _default(target, privilege, role, revoke=revoke)
    verb = sql.SQL("REVOKE {} ON {} FROM {}" if revoke else "GRANT {} ON {} TO {}")
    if on == "column":
        table, _, column = target.rpartition(".")
        what = sql.SQL("{} ({})").format(sql.SQL(privilege), sql.Identifier(column))
        return verb.format(what, sql.SQL("TABLE {}").format(_qualified(table)), sql.Identifier(role))
    objects = {"database": "DATABASE", "schema": "SCHEMA", "table": "TABLE", "sequence": "SEQUENCE"}
    name = _qualified(target) if "." in target and on in ("table", "sequence") else sql.Identifier(target)
    return verb.format(sql.SQL(privilege), sql.SQL(objects[on] + " {}").format(name), sql.Identifier(role))


def _default(target: str, privilege: str, role: str, *, revoke: bool) -> sql.Composed:
    """ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA s GRANT|REVOKE privilege ON TABLES|... (target
    is `owner.schema.objects`)."""
    owner, schema, objects = default_target(target)
    verb = "REVOKE {} ON {} FROM {}" if revoke else "GRANT {} ON {} TO {}"
    what = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} ").format(
        sql.Identifier(owner), sql.Identifier(schema)
    )
    return what + sql.SQL(verb).format(sql.SQL(privilege), sql.SQL(objects.upper()), sql.Identifier(role))


def _qualified(name: str) -> sql.Composable:
    schema, _, relation = name.partition(".")
    return sql.Identifier(schema, relation)


def drop(role: str, reassign_to: str | None) -> list[sql.Composed]:
    """DROP ROLE, after REASSIGN OWNED / DROP OWNED when the configuration names a role to reassign to."""
    ident = sql.Identifier(role)
    steps = []
    if reassign_to:
        steps.append(sql.SQL("REASSIGN OWNED BY {} TO {}").format(ident, sql.Identifier(reassign_to)))
        steps.append(sql.SQL("DROP OWNED BY {}").format(ident))
    return [*steps, sql.SQL("DROP ROLE {}").format(ident)]
