"""`keyform verify` for PostgreSQL: each delivered password logs in as its role, and the role's
effective privileges (has_*_privilege, inherited through its groups) match the declared grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

from keyform.contract import Finding
from keyform.providers.postgresql.kinds import (
    COLUMN_PRIVILEGES,
    DATABASE_PRIVILEGES,
    SCHEMA_PRIVILEGES,
    SEQUENCE_PRIVILEGES,
    TABLE_PRIVILEGES,
)

CHECKS = {  # on -> (function, privileges it can check)
    "database": ("has_database_privilege", DATABASE_PRIVILEGES),
    "schema": ("has_schema_privilege", SCHEMA_PRIVILEGES),
    "table": ("has_table_privilege", TABLE_PRIVILEGES),
    "sequence": ("has_sequence_privilege", SEQUENCE_PRIVILEGES),
    "column": ("has_column_privilege", COLUMN_PRIVILEGES),
}


class PasswordVerifier:
    """Connects as each login role with its delivered password and checks its effective privileges."""

    def __init__(self, dsn: str, options: Mapping[str, Any], sensitive_columns: Iterable[str] = ()):
        self.dsn = dsn
        self.options = dict(options)
        self.sensitive_columns = sorted(sensitive_columns)

    def check(self, address: str, entry: Any, state: Any, redactor: Any) -> Finding:
        password = entry.get("password") if isinstance(entry, Mapping) else None
        if not password or not address.startswith("login_roles/"):
            return Finding(address, False, "the sink entry has no password")
        role = address.partition("/")[2]
        params = {**self.options, "user": role, "password": password}
        for key in ("host", "port", "dbname", "user"):  # user: an overlap login role's current half
            if entry.get(key):
                params[key] = entry[key]
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, **params)
        except psycopg.OperationalError as error:
            first = (str(error).strip().splitlines() or [""])[0].replace(password, "<hidden>")
            return Finding(address, False, f"the password does not log in: {first}")
        with conn:
            declared = effective_grants(state.resource_map, address)
            missing = [grant for grant in sorted(declared) if not _holds(conn, grant)]
            undeclared = [
                grant
                for grant in (f"column:{column}:SELECT" for column in self.sensitive_columns)
                if grant not in declared and not _table_declared(grant, declared) and _holds(conn, grant)
            ]
        if missing or undeclared:
            problems = [f"lacks {', '.join(missing)}"] if missing else []
            problems += [f"can read undeclared sensitive {', '.join(undeclared)}"] if undeclared else []
            return Finding(address, False, f"logs in but {'; '.join(problems)}")
        return Finding(address, True, f"logs in and holds its {len(declared)} declared grants, its groups' included")

    def close(self) -> None:
        pass


def effective_grants(resources: Mapping[str, Any], address: str) -> set[str]:
    """The grants a role declares, with those of every group role it is a member of, transitively."""
    grants: set[str] = set()
    seen: set[str] = set()
    pending = [address]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        attributes = resources.get(current) or {}
        grants.update(attributes.get("grants") or ())
        pending += [f"group_roles/{group}" for group in attributes.get("member_of") or ()]
    return grants


def _table_declared(column_grant: str, declared: set[str]) -> bool:
    """Whether a grant on the whole table covers this column's (SELECT on a table reads every column)."""
    _, _, rest = column_grant.partition(":")
    target, _, privilege = rest.rpartition(":")
    table = target.rpartition(".")[0]
    return f"table:{table}:{privilege}" in declared


def _holds(conn: Any, grant: str) -> bool:
    on, _, rest = grant.partition(":")
    target, _, privilege = rest.rpartition(":")
    if on not in CHECKS:
        return True  # default privileges are for objects created later: nothing to check them on now
    function, known = CHECKS[on]
    if privilege not in known:
        return True
    if on == "database":
        query = sql.SQL("SELECT {}(current_database(), %s)").format(sql.Identifier(function))
        return bool(conn.execute(query, (privilege,)).fetchone()[0])
    if on == "column":
        table, _, column = target.rpartition(".")
        query = sql.SQL("SELECT {}(%s::regclass, %s, %s)").format(sql.Identifier(function))
        args: tuple[str, ...] = (_regclass(table), column, privilege)
    else:
        query = sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(function))
        args = (target if on == "schema" else _regclass(target), privilege)
    try:
        return bool(conn.execute(query, args).fetchone()[0])
    except psycopg.Error:
        return False


def _regclass(name: str) -> str:
    schema, _, relation = name.partition(".")
    return f'"{schema}"."{relation}"'
