"""One psycopg connection for a plan or an apply: counted queries, one transaction per change, and
errors as one line that never holds a password."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from keyform.contract import Change, GeneratedSecret, StaleChangeError, UnreachableError
from keyform.errors import ProviderError
from keyform.providers.postgresql import catalog, scram, statements

ROLES_NOW = """
SELECT r.rolname, shobj_description(r.oid, 'pg_authid'),
       ARRAY(SELECT DISTINCT g.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid
             WHERE a.member = r.oid ORDER BY g.rolname)
FROM pg_roles r WHERE r.rolname = ANY(%s)
"""  # DISTINCT: PostgreSQL 16 and later keep one pg_auth_members row per grantor of a membership


def _clean(message: str, secrets: list[str]) -> str:
    """The first line of a server or libpq message, with every known secret masked."""
    line = (message.strip().splitlines() or ["(no message)"])[0]
    for secret in secrets:
        if secret:
            line = line.replace(secret, "<hidden>")
    return line


class Session:
    """The connection keyform uses; `sent` counts every statement sent."""

    def __init__(self, dsn: str, options: Mapping[str, Any]):
        try:
            self.params = conninfo_to_dict(make_conninfo(dsn, **options))
        except psycopg.ProgrammingError:
            raise ProviderError("provider.dsn is not a valid PostgreSQL connection string or URL") from None
        self._secrets = [str(self.params.get("password") or "")]
        self.sent = 0
        self._conn: Any = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        info = self.connection.info
        return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"

    @property
    def connection(self) -> Any:
        if self._conn is None:
            try:
                self._conn = psycopg.connect(make_conninfo("", **self.params), autocommit=True)
            except psycopg.OperationalError as error:
                where = self._target()
                raise UnreachableError(
                    f"can't connect to PostgreSQL at {where}: {_clean(str(error), self._secrets)}: check provider.dsn "
                    "(DATABASE_URL) or the PG* variables, and that the server is running"
                ) from None
            self._secrets.append(str(self._conn.info.password or ""))
            weakref.finalize(self, self._conn.close)  # closed even when the caller drops the session unclosed
        return self._conn

    def _target(self) -> str:
        host = self.params.get("host") or "the default socket"
        return f"{host}:{self.params.get('port') or 5432}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connection_fields(self, role: str) -> dict[str, str]:
        """What libpq needs to connect as `role` (besides the password)."""
        info = self.connection.info
        return {"host": str(info.host), "port": str(info.port), "dbname": str(info.dbname), "user": role}

    # -- read ---------------------------------------------------------------------------------------

    def read(self) -> catalog.Catalog:
        with self._lock:
            self.sent += len(catalog.QUERIES) + 1  # the queries and SET TRANSACTION
            try:
                return catalog.read(self.connection)
            except psycopg.Error as error:
                raise ProviderError(f"reading the catalog failed: {self._message(error)}") from None

    # -- writes, each change in one transaction -----------------------------------------------------

    def create(self, change: Change, secret: GeneratedSecret | None) -> None:
        after = change.after or {}
        login = change.kind == "login_roles"
        verifier = scram.verifier(secret.fields["password"]) if secret is not None else ""
        steps = [statements.create(change.name, login, after, verifier)]
        steps.append(self._comment(change.name, secret))
        steps += statements.memberships(change.name, (), after.get("member_of", ()))
        steps += statements.grants(change.name, self.connection.info.dbname, (), after.get("grants", ()))
        self._run(change, steps)

    def update(self, change: Change) -> None:
        """An update or adopt: attributes, memberships and grants from what the plan saw to what it wants."""
        before, after = change.before or {}, change.after or {}
        steps: list[sql.Composable] = []
        if any(before.get(key) != after.get(key) for key in ("attributes", "connection_limit", "valid_until")):
            steps.append(statements.alter(change.name, after))
        steps += statements.memberships(change.name, before.get("member_of", ()), after.get("member_of", ()))
        steps += statements.grants(
            change.name, self.connection.info.dbname, before.get("grants", ()), after.get("grants", ())
        )
        if change.action == "adopt":
            steps.append(statements.comment(change.name))
        self._run(change, steps)

    def set_password(self, change: Change, secret: GeneratedSecret) -> None:
        verifier = scram.verifier(secret.fields["password"])
        self._run(change, [statements.password(change.name, verifier), self._comment(change.name, secret)])

    def delete(self, change: Change, reassign_to: str | None, first: Sequence[sql.Composable] = ()) -> None:
        before = change.before or {}
        steps = statements.grants(change.name, self.connection.info.dbname, before.get("grants", ()), ())
        self._run(change, [*first, *steps, *statements.drop(change.name, reassign_to)])

    def run(self, change: Change, steps: Sequence[sql.Composable]) -> None:
        """Statements built elsewhere (an overlap login role's), in one transaction like every change."""
        self._run(change, steps)

    def roles_now(self, names: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
        """The comment and memberships of those of `names` that exist, read at apply time."""
        try:
            with self._lock:
                self.sent += 1
                rows = self.connection.execute(ROLES_NOW, (list(names),)).fetchall()
        except psycopg.OperationalError as error:
            raise UnreachableError(f"reading roles {', '.join(names)} failed: {self._message(error)}") from None
        except psycopg.Error as error:
            raise ProviderError(f"reading roles {', '.join(names)} failed: {self._message(error)}") from None
        return {name: (comment or "", list(groups)) for name, comment, groups in rows}

    @staticmethod
    def _comment(role: str, secret: GeneratedSecret | None) -> sql.Composed:
        if secret is None:
            return statements.comment(role)
        return statements.comment(role, secret.secret_id, secret.created_at.isoformat())

    def etag(self, role: str) -> str | None:
        """The role's etag now (None: it does not exist)."""
        with self._lock:
            self.sent += 1
            row = self.connection.execute(catalog.ROLE_ETAG, (role,)).fetchone()
        return None if row is None else str(row[0])

    def _run(self, change: Change, steps: Sequence[sql.Composable]) -> None:
        """Every statement of one change in one transaction: all of it applies, or none; first, if the
        plan saw the role, that it has not changed since."""
        conn = self.connection
        try:
            with self._lock, conn.transaction():
                if change.etag is not None and change.action != "create":
                    self.sent += 1
                    row = conn.execute(catalog.ROLE_ETAG, (change.name,)).fetchone()
                    if row is None or row[0] != change.etag:
                        raise StaleChangeError(change.address, "the role changed since the plan")
                for step in steps:
                    self.sent += 1
                    conn.execute(step)
        except psycopg.errors.UndefinedObject as error:
            if change.action != "create":
                raise StaleChangeError(change.address, self._message(error)) from None
            raise ProviderError(f"{change.address}: PostgreSQL refused it: {self._message(error)}") from None
        except psycopg.errors.InsufficientPrivilege as error:
            raise ProviderError(
                f"{change.address}: PostgreSQL refused it: {self._message(error)}: keyform's role needs CREATEROLE "
                "and the right to grant these privileges (own the objects or hold them WITH GRANT OPTION)"
            ) from None
        except psycopg.OperationalError as error:
            raise UnreachableError(f"{change.address}: the connection failed: {self._message(error)}") from None
        except psycopg.Error as error:
            raise ProviderError(f"{change.address}: PostgreSQL refused it: {self._message(error)}") from None

    def _message(self, error: psycopg.Error) -> str:
        diag = getattr(error, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        return _clean(primary or str(error), self._secrets)
