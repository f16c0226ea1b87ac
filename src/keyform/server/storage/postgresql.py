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
    from psycopg.rows import dict_row, tuple_row
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
    (
        2,
        "list pages: each user and credential kept as its API JSON",
        """
CREATE TABLE user_items (
    seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE, item TEXT NOT NULL);
CREATE TABLE credential_items (
    seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE REFERENCES credentials (id) ON DELETE CASCADE,
    item TEXT NOT NULL);

-- users.render: row_to_json prints compact JSON with the keys in the select list's order
CREATE FUNCTION keyform_render_user(target TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_items (seq, id, item)
    SELECT u.seq, u.id, row_to_json(x)::text FROM users u, LATERAL (SELECT u.id, u.email, u.first_name, u.last_name,
        u.job_title, u.default_folder, u.role, u.cognitive_access, u.archived, u.managed_by,
        ARRAY(SELECT r.name FROM user_roles l JOIN roles r ON r.id = l.role_id WHERE l.user_id = u.id ORDER BY r.name)
            AS roles,
        (SELECT row_to_json(k) FROM (SELECT k.id, k.enabled, k.created_at, k.prefix FROM api_keys k
            WHERE k.user_id = u.id) k) AS api_key,
        u.created_at, u.updated_at, '"' || u.version || '"' AS etag) x
    WHERE u.id = target
    ON CONFLICT (id) DO UPDATE SET item = excluded.item;
END
$$;

-- credentials.render; json_strip_nulls prints the stored scopes compact (they hold no nulls)
CREATE FUNCTION keyform_render_credential(target TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO credential_items (seq, id, item)
    SELECT c.seq, c.id, row_to_json(x)::text FROM credentials c, LATERAL (SELECT c.id, c.name, c.integration, c.enabled,
        json_strip_nulls(c.permissions::json) AS permissions, json_strip_nulls(c.attributes::json) AS attributes,
        c.managed_by,
        ARRAY(SELECT r.name FROM credential_roles l JOIN roles r ON r.id = l.role_id WHERE l.credential_id = c.id
            ORDER BY r.name) AS roles,
        c.client_id,
        ARRAY(SELECT row_to_json(s) FROM (SELECT s.id, s.created_at FROM client_secrets s
            WHERE s.credential_id = c.id ORDER BY s.seq) s) AS secrets,
        c.created_at, c.updated_at, '"' || c.version || '"' AS etag) x
    WHERE c.id = target
    ON CONFLICT (id) DO UPDATE SET item = excluded.item;
END
$$;

CREATE FUNCTION keyform_render(kind TEXT, target TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF kind = 'user' THEN
        PERFORM keyform_render_user(target);
    ELSE
        PERFORM keyform_render_credential(target);
    END IF;
END
$$;

-- a trigger on a table whose rows show in an item: TG_ARGV = (the item's kind, the column naming its owner)
CREATE FUNCTION keyform_item_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before TEXT := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) ->> TG_ARGV[1] END;
    after TEXT := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) ->> TG_ARGV[1] END;
BEGIN
    IF after IS NOT NULL THEN
        PERFORM keyform_render(TG_ARGV[0], after);
    END IF;
    IF before IS DISTINCT FROM after THEN  -- a deletion (an owner deleted meanwhile renders nothing)
        PERFORM keyform_render(TG_ARGV[0], before);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER user_items AFTER INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('user', 'id');
CREATE TRIGGER user_items AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('user', 'user_id');
CREATE TRIGGER user_items AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('user', 'user_id');
CREATE TRIGGER credential_items AFTER INSERT OR UPDATE ON credentials
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('credential', 'id');
CREATE TRIGGER credential_items AFTER INSERT OR UPDATE OR DELETE ON credential_roles
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('credential', 'credential_id');
CREATE TRIGGER credential_items AFTER INSERT OR UPDATE OR DELETE ON client_secrets
    FOR EACH ROW EXECUTE FUNCTION keyform_item_changed('credential', 'credential_id');

-- a renamed role: every item that lists it
CREATE FUNCTION keyform_role_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM keyform_render_user(user_id) FROM user_roles WHERE role_id = NEW.id;
    PERFORM keyform_render_credential(credential_id) FROM credential_roles WHERE role_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER role_items AFTER UPDATE OF name ON roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION keyform_role_renamed();

SELECT keyform_render_user(id) FROM users;
SELECT keyform_render_credential(id) FROM credentials
""",
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

# A page is the stored items in order: the triggers of migration 2 keep each one current.
USER_PAGE = "SELECT seq, item FROM user_items WHERE {where} ORDER BY seq LIMIT ?"
CREDENTIAL_PAGE = "SELECT seq, item FROM credential_items WHERE {where} ORDER BY seq LIMIT ?"
BY_EMAIL = "seq > ? AND id = (SELECT id FROM users WHERE email_lower = ?)"
BY_NAME = "seq > ? AND id = (SELECT id FROM credentials WHERE name = ?)"


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

    # List pages: rendering 500 items per read cost more than the page's query, in SQL (row_to_json and
    # a sorted role list per row) as in Python (bench/README.md). So PostgreSQL renders an item when
    # it changes: triggers (migration 2) keep each user's and credential's API JSON in user_items and
    # credential_items, in the same transaction as the change, and a page reads them in order.
    # Changing what users.render or credentials.render returns takes a new migration: CREATE OR
    # REPLACE the render function, then render every row again (as migration 2 ends).
    def _items_page(self, sql: str, params: Sequence[Any]) -> list[tuple[int, str]]:
        with self._conn.cursor(row_factory=tuple_row) as cursor:
            return cursor.execute(_pg(sql), params).fetchall()

    def user_items(self, *, after: int, limit: int, email_lower: str | None = None) -> list[tuple[int, str]]:
        where, params = (BY_EMAIL, [after, email_lower]) if email_lower else ("seq > ?", [after])
        return self._items_page(USER_PAGE.format(where=where), [*params, limit])

    def credential_items(self, *, after: int, limit: int, name: str | None = None) -> list[tuple[int, str]]:
        where, params = (BY_NAME, [after, name]) if name else ("seq > ?", [after])
        return self._items_page(CREDENTIAL_PAGE.format(where=where), [*params, limit])


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
                conn.execute(sql)  # no parameters: one simple query, several statements (function bodies hold `;`)
                conn.execute("INSERT INTO keyform_schema (version, summary) VALUES (%s, %s)", (version, summary))
            applied += 1
        return applied
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
