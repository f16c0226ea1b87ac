"""SQLite, the default backend: one database file, WAL mode, foreign keys on.

`SqliteStorage` owns a small pool of connections and hands out transactions: writes run in
`BEGIN IMMEDIATE` after taking the process's write lock, so concurrent writers queue (without
SQLite's busy-handler sleeps) instead of interleaving, and a request either
commits completely or not at all. One process serves a SQLite file (see postgresql.py for replicas).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keyform.server.errors import ServerError
from keyform.server.storage.base import Housekeeping, Storage, Transaction

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


class SqliteTransaction(Transaction):
    """A transaction on one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection, housekeeping: Housekeeping):
        super().__init__(housekeeping)
        self._conn = conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._conn.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()[0]

    def _execute_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    # JSON1; json(...) keeps a value JSON (not text) when it passes through CASE or a subquery
    def _json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        return "json_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"

    def _json_bool(self, expr: str) -> str:
        return f"json(CASE WHEN {expr} THEN 'true' ELSE 'false' END)"

    def _json_stored(self, column: str) -> str:
        return f"json({column})"

    def _json_array(self, expr: str, source: str, order: str, *, of_json: bool = False) -> str:
        value = "json(x)" if of_json else "x"
        return f"json((SELECT json_group_array({value}) FROM (SELECT {expr} AS x FROM {source} ORDER BY {order})))"

    def _json_or_null(self, missing: str, expr: str) -> str:
        return f"json(CASE WHEN {missing} THEN 'null' ELSE {expr} END)"

    def _select_items(self, alias: str, pairs: Sequence[tuple[str, str]], source: str, where: str) -> str:
        item = self._json_object(pairs)
        return f"SELECT {alias}.seq AS seq, {item} AS item FROM {source} WHERE {where} ORDER BY {alias}.seq LIMIT ?"


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


class SqliteStorage(Storage):
    """A pool of SQLite connections to one database file, with the schema in place."""

    def __init__(self, path: str | Path):
        self.path = self.name = str(path)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # writers queue here, not in SQLite's sleeping busy handler
        self._housekeeping = Housekeeping()
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
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[SqliteTransaction]:
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
            with self._write_lock if write else contextlib.nullcontext():
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield SqliteTransaction(conn, self._housekeeping)
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
