"""PostgreSQL: several server processes (replicas) share one database and behave as one server.

Every write runs in a SERIALIZABLE transaction. PostgreSQL's serializable snapshot isolation
detects the rules that span rows (two demotions that would each leave the other owner the last
one, two lock acquisitions, two creations of one email or one Idempotency-Key) and fails one of
the transactions with a serialization failure; `run()` then runs the whole request again on a
fresh snapshot, where it sees the other's committed write. No explicit row or advisory locks are
needed for the domain rules. Reads run REPEATABLE READ READ ONLY: one consistent snapshot, never
a serialization failure.

The schema is a list of numbered migrations applied at start-up under a session advisory lock,
so replicas starting together migrate once: the first applies them, the others wait and find
nothing left to do. The password of the URL never appears in a message or a log line (urls.py).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from keyform.server.errors import ApiError, ServerError
from keyform.server.storage.base import Housekeeping, Storage, Transaction
from keyform.server.storage.urls import redact_url, scrub

try:  # the optional extra: pip install 'keyform[server-postgresql]'
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

T = TypeVar("T")
POOL_SIZE = 8  # the server's worker threads
ATTEMPTS = 20  # runs of one request's transaction before answering 503
MIGRATION_LOCK = int.from_bytes(b"keyform", "big")  # the advisory lock key of schema migrations
CONNECT_TIMEOUT = 10
BEGIN_WRITE = "BEGIN ISOLATION LEVEL SERIALIZABLE"
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

# (version, summary, SQL): append new migrations, never edit an applied one.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "the credential API's tables",
        """
CREATE TABLE organization (
    id TEXT PRIMARY KEY, singleton INTEGER NOT NULL UNIQUE DEFAULT 1 CHECK (singleton = 1),
    name TEXT NOT NULL, api_access BOOLEAN NOT NULL, version INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE users (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL, email_lower TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL, job_title TEXT NOT NULL,
    default_folder TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('account_owner', 'account_admin', 'standard')),
    cognitive_access BOOLEAN NOT NULL, archived BOOLEAN NOT NULL, managed_by TEXT,
    version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX users_role ON users (role, archived);
CREATE TABLE api_keys (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, enabled BOOLEAN NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE roles (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL, permissions TEXT NOT NULL, attributes TEXT NOT NULL,
    managed_by TEXT, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_id));
CREATE INDEX user_roles_role ON user_roles (role_id);
CREATE TABLE credentials (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
    integration TEXT NOT NULL, enabled BOOLEAN NOT NULL, permissions TEXT NOT NULL,
    attributes TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE, managed_by TEXT,
    version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE credential_roles (
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    PRIMARY KEY (credential_id, role_id));
CREATE INDEX credential_roles_role ON credential_roles (role_id);
CREATE TABLE client_secrets (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE INDEX client_secrets_credential ON client_secrets (credential_id);
CREATE TABLE access_tokens (
    hash TEXT PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    secret_id TEXT NOT NULL REFERENCES client_secrets (id) ON DELETE CASCADE,
    expires_ts DOUBLE PRECISION NOT NULL);
CREATE INDEX access_tokens_credential ON access_tokens (credential_id);
CREATE INDEX access_tokens_secret ON access_tokens (secret_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_ts);
CREATE TABLE idempotency (
    principal TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT, etag TEXT, created_ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (principal, key));
CREATE INDEX idempotency_age ON idempotency (created_ts);
CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, changes TEXT NOT NULL);
CREATE TABLE locks (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    reason TEXT NOT NULL, created_at TEXT NOT NULL, expires_ts DOUBLE PRECISION NOT NULL);
CREATE TABLE records (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, module TEXT NOT NULL,
    data TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX records_module ON records (module, seq)
""",
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


@functools.lru_cache(maxsize=1024)
def _pg(sql: str) -> str:
    """The shared `?` placeholders as psycopg's `%s` (the shared SQL has no literal `%` or `?`)."""
    return sql.replace("?", "%s")


class PostgresTransaction(Transaction):
    """A transaction on one pooled connection (rows come back as dicts)."""

    def __init__(self, conn: psycopg.Connection, housekeeping: Housekeeping):
        super().__init__(housekeeping)
        self._conn = conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(_pg(sql), params)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._conn.execute(_pg(sql), params).fetchall()  # type: ignore[return-value]

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row: Any = self._conn.execute(_pg(sql), params).fetchone()
        return next(iter(row.values()))

    def _execute_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(_pg(sql), rows)

    def _in(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]  # one statement text whatever the count: prepared once

    def _json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"

    def _json_bool(self, expr: str) -> str:
        return expr

    def _json_stored(self, column: str) -> str:
        return f"{column}::json"

    def _json_array(self, expr: str, source: str, order: str, *, of_json: bool = False) -> str:
        return f"coalesce((SELECT json_agg({expr} ORDER BY {order}) FROM {source}), '[]'::json)"

    def _json_or_null(self, missing: str, expr: str) -> str:
        return f"CASE WHEN {missing} THEN NULL ELSE {expr} END"

    def _select_items(self, alias: str, pairs: Sequence[tuple[str, str]], source: str, where: str) -> str:
        """row_to_json of a LATERAL row: a third cheaper than json_build_object for the outer object."""
        columns = ", ".join(f'{expr} AS "{key}"' for key, expr in pairs)
        return (
            f"SELECT {alias}.seq AS seq, row_to_json(item)::text AS item FROM {source} "
            f"CROSS JOIN LATERAL (SELECT {columns}) item WHERE {where} ORDER BY {alias}.seq LIMIT ?"
        )


class _ScrubPassword(logging.Filter):
    """Remove the URL's password from psycopg's own log lines (its pool logs connection errors)."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.url)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


LOGGERS = ("psycopg", "psycopg.pool")


def _one_line(error: BaseException, url: str) -> str:
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return scrub(text, url) or type(error).__name__


def _retryable() -> tuple[type[BaseException], ...]:
    """A concurrent writer won: run the request again (a unique violation under SERIALIZABLE can be one)."""
    return (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.UniqueViolation)


class PostgresStorage(Storage):
    """A connection pool to one PostgreSQL database, migrated to the current schema."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE):
        if psycopg is None:
            raise ServerError(
                "--db postgresql://... needs the PostgreSQL driver: pip install 'keyform[server-postgresql]'"
            )
        self.url = url
        self.name = redact_url(url)
        self._filter = _ScrubPassword(url)
        for name in LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        self._pool: ConnectionPool | None = None
        self._housekeeping = Housekeeping()
        try:
            with self._connect() as conn:
                migrate(conn, self.name)
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True, "row_factory": dict_row, **self._timeout()},
                open=False,
                name="keyform",
            )
            self._pool.open()
        except psycopg.Error as error:
            self.close()
            raise ServerError(
                f"cannot open database {self.name}: {_one_line(error, url)}; check the URL, that PostgreSQL "
                "runs there, and the password (PGPASSWORD or a password file, see PGPASSFILE)"
            ) from None
        except BaseException:
            self.close()
            raise

    def _timeout(self) -> dict[str, Any]:
        return {} if "connect_timeout" in self.url else {"connect_timeout": CONNECT_TIMEOUT}

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, row_factory=dict_row, **self._timeout())

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[PostgresTransaction]:
        """SERIALIZABLE for writes, REPEATABLE READ READ ONLY for reads; rolled back on any error."""
        if self._pool is None:
            raise ServerError(f"database {self.name} is closed")
        with self._pool.connection() as conn:
            try:
                conn.execute(BEGIN_WRITE if write else BEGIN_READ)
                yield PostgresTransaction(conn, self._housekeeping)
                conn.execute("COMMIT")
            finally:
                if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")

    def run(self, work: Callable[[Transaction], T], *, write: bool) -> T:
        """`work(tx)` in one transaction, run again (up to ATTEMPTS times) when a concurrent writer won."""
        retryable = _retryable()
        for attempt in range(ATTEMPTS):
            try:
                with self.transaction(write=write) as tx:
                    return work(tx)
            except retryable:
                time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))  # spread the retries apart
        raise ApiError(
            503,
            "busy",
            f"the change conflicted with concurrent changes {ATTEMPTS} times; retry in a moment",
            headers={"Retry-After": "1"},
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        for name in LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)


def migrate(conn: psycopg.Connection, name: str) -> int:
    """Apply the missing migrations under the migration advisory lock; return how many ran."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS keyform_schema (version INTEGER PRIMARY KEY, summary TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        row: Any = conn.execute("SELECT coalesce(max(version), 0) AS version FROM keyform_schema").fetchone()
        current = row["version"]
        if current > SCHEMA_VERSION:
            raise ServerError(
                f"database {name} has schema version {current}, newer than this keyform's {SCHEMA_VERSION}; "
                "upgrade keyform on every replica"
            )
        applied = 0
        for version, summary, sql in MIGRATIONS[current:]:
            with conn.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO keyform_schema (version, summary) VALUES (%s, %s)", (version, summary))
            applied += 1
        return applied
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
