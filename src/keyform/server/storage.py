"""SQLite storage: every SQL statement of the service lives in this module.

`Storage` owns a small pool of connections (WAL mode, foreign keys on) and hands out
`Transaction` objects: writes run in `BEGIN IMMEDIATE`, so concurrent writers queue instead of
interleaving, and a request either commits completely or not at all. `Transaction` is the one
interface the domain modules use; a PostgreSQL backend would implement the same methods.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keyform.server.errors import ServerError

SCHEMA_VERSION = 2  # 2: access tokens belong to the client secret that minted them

SCHEMA = """
CREATE TABLE IF NOT EXISTS organization (
    id TEXT PRIMARY KEY, singleton INTEGER NOT NULL UNIQUE DEFAULT 1 CHECK (singleton = 1),
    name TEXT NOT NULL, api_access INTEGER NOT NULL, version INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL, email_lower TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL, job_title TEXT NOT NULL,
    default_folder TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('account_owner', 'account_admin', 'standard')),
    cognitive_access INTEGER NOT NULL, archived INTEGER NOT NULL, managed_by TEXT,
    version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS users_role ON users (role, archived);
CREATE TABLE IF NOT EXISTS api_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL, permissions TEXT NOT NULL, attributes TEXT NOT NULL,
    managed_by TEXT, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_id));
CREATE INDEX IF NOT EXISTS user_roles_role ON user_roles (role_id);
CREATE TABLE IF NOT EXISTS credentials (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,
    integration TEXT NOT NULL, enabled INTEGER NOT NULL, permissions TEXT NOT NULL,
    attributes TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE, managed_by TEXT,
    version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credential_roles (
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    PRIMARY KEY (credential_id, role_id));
CREATE INDEX IF NOT EXISTS credential_roles_role ON credential_roles (role_id);
CREATE TABLE IF NOT EXISTS client_secrets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS client_secrets_credential ON client_secrets (credential_id);
CREATE TABLE IF NOT EXISTS access_tokens (
    hash TEXT PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    secret_id TEXT NOT NULL REFERENCES client_secrets (id) ON DELETE CASCADE,
    expires_ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS access_tokens_credential ON access_tokens (credential_id);
CREATE INDEX IF NOT EXISTS access_tokens_secret ON access_tokens (secret_id);
CREATE INDEX IF NOT EXISTS access_tokens_expiry ON access_tokens (expires_ts);
CREATE TABLE IF NOT EXISTS idempotency (
    principal TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT, etag TEXT, created_ts REAL NOT NULL,
    PRIMARY KEY (principal, key));
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_ts);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, changes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    reason TEXT NOT NULL, created_at TEXT NOT NULL, expires_ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, module TEXT NOT NULL,
    data TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_module ON records (module, seq);
"""

# table -> (JSON columns, boolean columns); also the whitelist for the generic helpers.
TABLES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "organization": (frozenset(), frozenset({"api_access"})),
    "users": (frozenset(), frozenset({"cognitive_access", "archived"})),
    "api_keys": (frozenset(), frozenset({"enabled"})),
    "roles": (frozenset({"permissions", "attributes"}), frozenset()),
    "credentials": (frozenset({"permissions", "attributes"}), frozenset({"enabled"})),
    "client_secrets": (frozenset(), frozenset()),
    "access_tokens": (frozenset(), frozenset()),
    "audit": (frozenset({"actor", "target", "changes"}), frozenset()),
    "locks": (frozenset(), frozenset()),
    "records": (frozenset({"data"}), frozenset()),
}
LOOKUP_COLUMNS = frozenset({"id", "name", "email_lower", "client_id", "user_id", "credential_id"})
ROLE_LINKS = {"users": ("user_roles", "user_id"), "credentials": ("credential_roles", "credential_id")}


def _table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table


def _encode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    json_columns, _ = TABLES[table]
    return {k: json.dumps(v, sort_keys=True) if k in json_columns else v for k, v in row.items()}


def _decode(table: str, row: sqlite3.Row) -> dict[str, Any]:
    json_columns, bool_columns = TABLES[table]
    out: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row has no __iter__ over keys
        value = row[key]
        if key in json_columns:
            value = json.loads(value)
        elif key in bool_columns:
            value = bool(value)
        out[key] = value
    return out


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


class Transaction:
    """One database transaction; the only way the domain reads or writes state."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def _all(self, table: str, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return [_decode(table, row) for row in self._conn.execute(sql, params)]

    # -- generic row helpers (table and column names come from whitelists, never from input)
    def get(self, table: str, resource_id: str) -> dict[str, Any] | None:
        return self.find(table, "id", resource_id)

    def find(self, table: str, column: str, value: Any) -> dict[str, Any] | None:
        if column not in LOOKUP_COLUMNS:
            raise ValueError(f"not a lookup column: {column}")
        rows = self._all(table, f"SELECT * FROM {_table(table)} WHERE {column} = ?", (value,))
        return rows[0] if rows else None

    def insert(self, table: str, row: dict[str, Any]) -> None:
        row = _encode(table, row)
        columns = ", ".join(row)
        self._conn.execute(
            f"INSERT INTO {_table(table)} ({columns}) VALUES ({_marks(list(row))})",
            tuple(row.values()),
        )

    def update(self, table: str, resource_id: str, fields: dict[str, Any]) -> None:
        """Set `fields` (which carry `version`/`updated_at` when the table has them)."""
        if not fields:
            return
        row = _encode(table, fields)
        assignments = ", ".join(f"{column} = ?" for column in row)
        self._conn.execute(f"UPDATE {_table(table)} SET {assignments} WHERE id = ?", (*row.values(), resource_id))

    def touch(self, table: str, resource_id: str, updated_at: str) -> None:
        """Bump a resource's version (its ETag) after a change to one of its sub-resources."""
        self._conn.execute(
            f"UPDATE {_table(table)} SET version = version + 1, updated_at = ? WHERE id = ?",
            (updated_at, resource_id),
        )

    def delete(self, table: str, resource_id: str) -> None:
        self._conn.execute(f"DELETE FROM {_table(table)} WHERE id = ?", (resource_id,))

    def page(self, table: str, *, after: int, limit: int, equal: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """Rows in creation order after sequence number `after` (one query); `equal`: (column, value) filter."""
        where, params = "seq > ?", [after]
        if equal is not None:
            column = {"email_lower": "email_lower", "name": "name"}[equal[0]]  # never an arbitrary column
            where, params = where + f" AND {column} = ?", [*params, equal[1]]
        sql = f"SELECT * FROM {_table(table)} WHERE {where} ORDER BY seq LIMIT ?"
        return self._all(table, sql, [*params, limit])

    def count(self, table: str) -> int:
        return self._conn.execute(f"SELECT count(*) FROM {_table(table)}").fetchone()[0]

    # -- organization
    def organization(self) -> dict[str, Any] | None:
        rows = self._all("organization", "SELECT * FROM organization")
        return rows[0] if rows else None

    # -- users and their API keys
    def count_working_owners(self) -> int:
        """Account Owners who can still use the API: not archived, with an enabled API key."""
        sql = (
            "SELECT count(*) FROM users u JOIN api_keys k ON k.user_id = u.id "
            "WHERE u.role = 'account_owner' AND u.archived = 0 AND k.enabled = 1"
        )
        return self._conn.execute(sql).fetchone()[0]

    def api_keys_for(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        sql = f"SELECT * FROM api_keys WHERE user_id IN ({_marks(user_ids)})"
        return {row["user_id"]: row for row in self._all("api_keys", sql, user_ids)}

    def delete_api_key_of(self, user_id: str) -> None:
        self._conn.execute("DELETE FROM api_keys WHERE user_id = ?", (user_id,))

    def key_and_user(self, key_hash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        rows = self._all("api_keys", "SELECT * FROM api_keys WHERE hash = ?", (key_hash,))
        if not rows:
            return None
        key = rows[0]
        user = self.get("users", key["user_id"])
        return (key, user) if user else None

    # -- roles attached to users and credentials
    def roles_by_name(self, names: list[str]) -> dict[str, dict[str, Any]]:
        sql = f"SELECT * FROM roles WHERE name IN ({_marks(names)})"
        return {row["name"]: row for row in self._all("roles", sql, names)}

    def roles_of(self, kind: str, owner_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """owner id -> its roles sorted by name, for a whole page of users or credentials."""
        link, column = ROLE_LINKS[kind]
        sql = (
            f"SELECT l.{column} AS owner_id, r.* FROM {link} l JOIN roles r ON r.id = l.role_id "
            f"WHERE l.{column} IN ({_marks(owner_ids)}) ORDER BY r.name"
        )
        result: dict[str, list[dict[str, Any]]] = {owner: [] for owner in owner_ids}
        for row in self._all("roles", sql, owner_ids):
            result[row.pop("owner_id")].append(row)
        return result

    def set_roles(self, kind: str, owner_id: str, role_ids: list[str]) -> None:
        link, column = ROLE_LINKS[kind]
        self._conn.execute(f"DELETE FROM {link} WHERE {column} = ?", (owner_id,))
        self._conn.executemany(
            f"INSERT INTO {link} ({column}, role_id) VALUES (?, ?)",
            [(owner_id, role_id) for role_id in role_ids],
        )

    def role_usage(self, role_id: str) -> tuple[int, int]:
        """How many users and credentials have this role attached."""
        users = self._conn.execute("SELECT count(*) FROM user_roles WHERE role_id = ?", (role_id,)).fetchone()[0]
        credentials = self._conn.execute(
            "SELECT count(*) FROM credential_roles WHERE role_id = ?", (role_id,)
        ).fetchone()[0]
        return users, credentials

    # -- credentials, client secrets, access tokens
    def secrets_of(self, credential_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        sql = f"SELECT * FROM client_secrets WHERE credential_id IN ({_marks(credential_ids)}) ORDER BY seq"
        result: dict[str, list[dict[str, Any]]] = {cid: [] for cid in credential_ids}
        for row in self._all("client_secrets", sql, credential_ids):
            result[row["credential_id"]].append(row)
        return result

    def credential_for_token(self, token_hash: str, now_ts: float) -> dict[str, Any] | None:
        sql = (
            "SELECT c.* FROM access_tokens t JOIN credentials c ON c.id = t.credential_id "
            "WHERE t.hash = ? AND t.expires_ts > ?"
        )
        rows = self._all("credentials", sql, (token_hash, now_ts))
        return rows[0] if rows else None

    def add_access_token(self, token_hash: str, secret: dict[str, Any], expires_ts: float) -> None:
        """Store a token minted from `secret`; revoking that secret deletes it (ON DELETE CASCADE)."""
        self._conn.execute("DELETE FROM access_tokens WHERE expires_ts <= ?", (expires_ts - 3600,))
        self._conn.execute(
            "INSERT INTO access_tokens (hash, credential_id, secret_id, expires_ts) VALUES (?, ?, ?, ?)",
            (token_hash, secret["credential_id"], secret["id"], expires_ts),
        )

    def end_access_tokens(self, credential_id: str) -> None:
        """Every access token of the credential stops working (a disable must not be undone by an enable)."""
        self._conn.execute("DELETE FROM access_tokens WHERE credential_id = ?", (credential_id,))

    # -- idempotency records (bodies are stored with secrets already removed)
    def idempotent_response(self, principal: str, key: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT request_hash, status, body, etag FROM idempotency WHERE principal = ? AND key = ?",
            (principal, key),
        ).fetchone()
        return dict(row) if row else None

    def save_idempotent_response(
        self,
        principal: str,
        key: str,
        request_hash: str,
        status: int,
        body: str | None,
        etag: str | None,
        now_ts: float,
        keep_seconds: float,
    ) -> None:
        self._conn.execute("DELETE FROM idempotency WHERE created_ts < ?", (now_ts - keep_seconds,))
        self._conn.execute(
            "INSERT INTO idempotency (principal, key, request_hash, status, body, etag, created_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (principal, key, request_hash, status, body, etag, now_ts),
        )

    # -- locks and demo data
    def live_locks(self, now_ts: float) -> list[dict[str, Any]]:
        sql = "SELECT * FROM locks WHERE expires_ts > ? ORDER BY seq"
        return self._all("locks", sql, (now_ts,))

    def purge_expired_locks(self, now_ts: float) -> None:
        self._conn.execute("DELETE FROM locks WHERE expires_ts <= ?", (now_ts,))

    def records(self, module: str) -> list[dict[str, Any]]:
        sql = "SELECT * FROM records WHERE module = ? ORDER BY seq"
        return self._all("records", sql, (module,))


def _create_private(path: str) -> None:
    """Create a missing database file with mode 0600 before SQLite opens it.

    It holds salaries and IBANs; SQLite gives its -wal and -shm files the database file's mode.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError as error:
        raise ServerError(f"cannot create database {path}: {error.strerror}") from None


class Storage:
    """A pool of SQLite connections to one database file, with the schema in place."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._closed = False
        _create_private(self.path)
        try:
            with self.transaction(write=True) as tx:
                if tx._conn.execute("PRAGMA user_version").fetchone()[0] < 2:
                    # version 1 tokens don't name their secret: drop them (clients exchange again)
                    tx._conn.execute("DROP TABLE IF EXISTS access_tokens")
                tx._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        tx._conn.execute(statement)
        except sqlite3.DatabaseError as error:
            self.close()
            raise ServerError(f"cannot open database {self.path}: {error}") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Transaction]:
        """A read (`BEGIN`) or write (`BEGIN IMMEDIATE`) transaction; rolled back on any error."""
        with self._lock:
            if self._closed:
                raise ServerError(f"database {self.path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            with self._lock:
                self._all.append(conn)
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Transaction(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with self._lock:
                self._idle.append(conn)

    def close(self) -> None:
        """Close every connection (call after the last request has finished)."""
        with self._lock:
            self._closed = True
            connections, self._all, self._idle = self._all, [], []
        for conn in connections:
            conn.close()
