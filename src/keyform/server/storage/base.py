"""The SQL every backend shares: `Transaction` is the one interface the domain modules use.

Statements are written once, with `?` placeholders; a backend supplies four primitives (run a
statement, fetch rows, fetch one value, run a statement for many parameter rows) and how to test
a column against a list of values. Table and column names come from whitelists, never from input.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_ITEM_SQL: dict[tuple[type, str], str] = {}  # (backend, listing) -> its statement, built once

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


def _decode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The row (a fresh dict, changed in place) with JSON columns parsed and booleans as bool."""
    out = row
    json_columns, bool_columns = TABLES[table]
    for key in json_columns:
        if key in out:
            out[key] = json.loads(out[key])
    for key in bool_columns:
        if key in out:
            out[key] = bool(out[key])
    return out


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


PURGE_SECONDS = 60.0


class Housekeeping:
    """When a table's expired rows are due for deletion: at most once a minute per process.

    Expired tokens and idempotency records are already ignored when read; deleting them only keeps
    the tables small. Doing it in every token exchange made concurrent exchanges conflict (each
    deletion reads the range another's insert writes), so it runs now and then instead.
    """

    def __init__(self, every: float = PURGE_SECONDS):
        self.every = every
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def due(self, table: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next.get(table, 0.0):
                return False
            self._next[table] = now + self.every
            return True


@dataclass(frozen=True)
class ExchangeView:
    """What a token exchange checks, read in one query (`Transaction.exchange_view`)."""

    credential: dict[str, Any]
    secret: dict[str, Any] | None  # the live secret with the given hash (id, credential_id), if any
    roles: list[dict[str, Any]]  # permissions and attributes of each role attached to the credential
    api_access: bool  # the organisation's switch


EXCHANGE_VIEW = (
    "SELECT c.*, s.id AS exchange_secret_id, o.api_access AS exchange_api_access, "
    "r.permissions AS exchange_role_permissions, r.attributes AS exchange_role_attributes "
    "FROM credentials c CROSS JOIN organization o "
    "LEFT JOIN client_secrets s ON s.credential_id = c.id AND s.hash = ? "
    "LEFT JOIN credential_roles l ON l.credential_id = c.id LEFT JOIN roles r ON r.id = l.role_id "
    "WHERE c.client_id = ?"
)


class Transaction:
    """One database transaction; the only way the domain reads or writes state.

    Booleans are bound as parameters (never written as 0/1 literals), so the same statements run
    on SQLite's integers and PostgreSQL's booleans.
    """

    def __init__(self, housekeeping: Housekeeping):
        self._housekeeping = housekeeping

    # -- the primitives a backend implements
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The result rows as new dicts (column name -> value)."""
        raise NotImplementedError

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _in(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """A condition "`column` is one of `values`" (non-empty) and its parameters."""
        return f"{column} IN ({_marks(values)})", list(values)

    def _all(self, table: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [_decode(table, row) for row in self._rows(sql, params)]

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
        self._execute(
            f"INSERT INTO {_table(table)} ({columns}) VALUES ({_marks(list(row))})",
            tuple(row.values()),
        )

    def update(self, table: str, resource_id: str, fields: dict[str, Any]) -> None:
        """Set `fields` (which carry `version`/`updated_at` when the table has them)."""
        if not fields:
            return
        row = _encode(table, fields)
        assignments = ", ".join(f"{column} = ?" for column in row)
        self._execute(f"UPDATE {_table(table)} SET {assignments} WHERE id = ?", (*row.values(), resource_id))

    def touch(self, table: str, resource_id: str, updated_at: str) -> None:
        """Bump a resource's version (its ETag) after a change to one of its sub-resources."""
        self._execute(
            f"UPDATE {_table(table)} SET version = version + 1, updated_at = ? WHERE id = ?",
            (updated_at, resource_id),
        )

    def delete(self, table: str, resource_id: str) -> None:
        self._execute(f"DELETE FROM {_table(table)} WHERE id = ?", (resource_id,))

    def page(self, table: str, *, after: int, limit: int, equal: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """Rows in creation order after sequence number `after` (one query); `equal`: (column, value) filter."""
        where, params = "seq > ?", list[int | str]([after])
        if equal is not None:
            column = {"email_lower": "email_lower", "name": "name"}[equal[0]]  # never an arbitrary column
            where, params = where + f" AND {column} = ?", [*params, equal[1]]
        sql = f"SELECT * FROM {_table(table)} WHERE {where} ORDER BY seq LIMIT ?"
        return self._all(table, sql, [*params, limit])

    def count(self, table: str) -> int:
        return int(self._scalar(f"SELECT count(*) FROM {_table(table)}"))

    # -- list pages the database renders: one query a page, each row serialised once (in SQL)
    # The JSON dialect of each backend: an object from (key, SQL expression) pairs, a stored
    # boolean, a stored JSON text, an ordered array from a subquery, and the final text.
    def _json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        raise NotImplementedError

    def _json_bool(self, expr: str) -> str:
        raise NotImplementedError

    def _json_stored(self, column: str) -> str:
        raise NotImplementedError

    def _json_array(self, expr: str, source: str, order: str, *, of_json: bool = False) -> str:
        """A JSON array of `expr` (JSON itself if `of_json`) over `source` (FROM ... WHERE), in `order`."""
        raise NotImplementedError

    def _json_or_null(self, missing: str, expr: str) -> str:
        raise NotImplementedError

    def _select_items(self, alias: str, pairs: Sequence[tuple[str, str]], source: str, where: str) -> str:
        """SELECT `alias`.seq AS seq and the object `pairs` as JSON text AS item, FROM `source` WHERE `where`."""
        raise NotImplementedError

    def _stamps(self, alias: str) -> list[tuple[str, str]]:
        return [
            ("created_at", f"{alias}.created_at"),
            ("updated_at", f"{alias}.updated_at"),
            ("etag", f"'\"' || {alias}.version || '\"'"),
        ]

    def _items(self, key: str, build: Callable[[], str], params: list[Any]) -> list[tuple[int, str]]:
        sql = _ITEM_SQL.get((type(self), key))
        if sql is None:
            sql = _ITEM_SQL[(type(self), key)] = build()
        return [(row["seq"], row["item"]) for row in self._rows(sql, params)]

    def user_items(self, *, after: int, limit: int, email_lower: str | None = None) -> list[tuple[int, str]]:
        """(seq, the user as API JSON) for a page of users in creation order (see users.render)."""

        def build() -> str:
            key = self._json_object(
                [
                    ("id", "k.id"),
                    ("enabled", self._json_bool("k.enabled")),
                    ("created_at", "k.created_at"),
                    ("prefix", "k.prefix"),
                ]
            )
            roles = self._json_array(
                "r.name", "user_roles l JOIN roles r ON r.id = l.role_id WHERE l.user_id = u.id", "r.name"
            )
            item = [
                ("id", "u.id"),
                *[(name, f"u.{name}") for name in ("email", "first_name", "last_name", "job_title")],
                ("default_folder", "u.default_folder"),
                ("role", "u.role"),
                ("cognitive_access", self._json_bool("u.cognitive_access")),
                ("archived", self._json_bool("u.archived")),
                ("managed_by", "u.managed_by"),
                ("roles", roles),
                ("api_key", self._json_or_null("k.id IS NULL", key)),
                *self._stamps("u"),
            ]
            where = "u.seq > ?" + (" AND u.email_lower = ?" if email_lower is not None else "")
            source = "users u LEFT JOIN api_keys k ON k.user_id = u.id"
            return self._select_items("u", item, source, where)

        params = [after, *([email_lower] if email_lower is not None else []), limit]
        return self._items("users" if email_lower is None else "users-by-email", build, params)

    def credential_items(self, *, after: int, limit: int, name: str | None = None) -> list[tuple[int, str]]:
        """(seq, the credential as API JSON) for a page of credentials (see credentials.render)."""

        def build() -> str:
            roles = self._json_array(
                "r.name", "credential_roles l JOIN roles r ON r.id = l.role_id WHERE l.credential_id = c.id", "r.name"
            )
            secret = self._json_object([("id", "s.id"), ("created_at", "s.created_at")])
            secrets = self._json_array(secret, "client_secrets s WHERE s.credential_id = c.id", "s.seq", of_json=True)
            item = [
                ("id", "c.id"),
                ("name", "c.name"),
                ("integration", "c.integration"),
                ("enabled", self._json_bool("c.enabled")),
                ("permissions", self._json_stored("c.permissions")),
                ("attributes", self._json_stored("c.attributes")),
                ("managed_by", "c.managed_by"),
                ("roles", roles),
                ("client_id", "c.client_id"),
                ("secrets", secrets),
                *self._stamps("c"),
            ]
            where = "c.seq > ?" + (" AND c.name = ?" if name is not None else "")
            return self._select_items("c", item, "credentials c", where)

        params = [after, *([name] if name is not None else []), limit]
        return self._items("credentials" if name is None else "credentials-by-name", build, params)

    # -- organization
    def organization(self) -> dict[str, Any] | None:
        rows = self._all("organization", "SELECT * FROM organization")
        return rows[0] if rows else None

    # -- users and their API keys
    def count_working_owners(self) -> int:
        """Account Owners who can still use the API: not archived, with an enabled API key."""
        sql = (
            "SELECT count(*) FROM users u JOIN api_keys k ON k.user_id = u.id "
            "WHERE u.role = 'account_owner' AND u.archived = ? AND k.enabled = ?"
        )
        return int(self._scalar(sql, (False, True)))

    def api_keys_for(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not user_ids:
            return {}
        where, params = self._in("user_id", user_ids)
        return {row["user_id"]: row for row in self._all("api_keys", f"SELECT * FROM api_keys WHERE {where}", params)}

    def delete_api_key_of(self, user_id: str) -> None:
        self._execute("DELETE FROM api_keys WHERE user_id = ?", (user_id,))

    def key_and_user(self, key_hash: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        rows = self._all("api_keys", "SELECT * FROM api_keys WHERE hash = ?", (key_hash,))
        if not rows:
            return None
        key = rows[0]
        user = self.get("users", key["user_id"])
        return (key, user) if user else None

    # -- roles attached to users and credentials
    def roles_by_name(self, names: list[str]) -> dict[str, dict[str, Any]]:
        if not names:
            return {}
        where, params = self._in("name", names)
        return {row["name"]: row for row in self._all("roles", f"SELECT * FROM roles WHERE {where}", params)}

    def roles_of(self, kind: str, owner_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """owner id -> its roles sorted by name, for a whole page of users or credentials."""
        link, column = ROLE_LINKS[kind]
        result: dict[str, list[dict[str, Any]]] = {owner: [] for owner in owner_ids}
        if not owner_ids:
            return result
        where, params = self._in(f"l.{column}", owner_ids)
        sql = (
            f"SELECT l.{column} AS owner_id, r.* FROM {link} l JOIN roles r ON r.id = l.role_id "
            f"WHERE {where} ORDER BY r.name"
        )
        for row in self._all("roles", sql, params):
            result[row.pop("owner_id")].append(row)
        return result

    def role_names_of(self, kind: str, owner_ids: list[str]) -> dict[str, list[str]]:
        """owner id -> the names of its roles, sorted, for a whole page (what a listing shows)."""
        link, column = ROLE_LINKS[kind]
        result: dict[str, list[str]] = {owner: [] for owner in owner_ids}
        if not owner_ids:
            return result
        where, params = self._in(f"l.{column}", owner_ids)
        sql = (
            f"SELECT l.{column} AS owner_id, r.name AS name FROM {link} l JOIN roles r ON r.id = l.role_id "
            f"WHERE {where} ORDER BY r.name"
        )
        for row in self._rows(sql, params):
            result[row["owner_id"]].append(row["name"])
        return result

    def set_roles(self, kind: str, owner_id: str, role_ids: list[str]) -> None:
        link, column = ROLE_LINKS[kind]
        self._execute(f"DELETE FROM {link} WHERE {column} = ?", (owner_id,))
        self._execute_many(
            f"INSERT INTO {link} ({column}, role_id) VALUES (?, ?)",
            [(owner_id, role_id) for role_id in role_ids],
        )

    def role_usage(self, role_id: str) -> tuple[int, int]:
        """How many users and credentials have this role attached."""
        users = self._scalar("SELECT count(*) FROM user_roles WHERE role_id = ?", (role_id,))
        credentials = self._scalar("SELECT count(*) FROM credential_roles WHERE role_id = ?", (role_id,))
        return users, credentials

    # -- credentials, client secrets, access tokens
    def secrets_of(self, credential_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = {cid: [] for cid in credential_ids}
        if not credential_ids:
            return result
        where, params = self._in("credential_id", credential_ids)
        sql = f"SELECT * FROM client_secrets WHERE {where} ORDER BY seq"
        for row in self._all("client_secrets", sql, params):
            result[row["credential_id"]].append(row)
        return result

    def exchange_view(self, client_id: str, secret_hash: str) -> ExchangeView | None:
        """The credential with `client_id` and all a token exchange checks, in one query, or None.

        The exchange is the server's hottest write; on PostgreSQL each query is a round trip, and
        this one replaces four (credential, secrets, roles, organisation). One row per attached
        role (one row with no role when there is none); a secret's hash is unique, so at most one
        secret matches.
        """
        rows = self._rows(EXCHANGE_VIEW, (secret_hash, client_id))
        if not rows:
            return None
        roles = [
            {
                "permissions": json.loads(row["exchange_role_permissions"]),
                "attributes": json.loads(row["exchange_role_attributes"]),
            }
            for row in rows
            if row["exchange_role_permissions"] is not None
        ]
        first = rows[0]
        secret_id = first.pop("exchange_secret_id")
        api_access = bool(first.pop("exchange_api_access"))
        del first["exchange_role_permissions"], first["exchange_role_attributes"]
        credential = _decode("credentials", first)
        secret = None if secret_id is None else {"id": secret_id, "credential_id": credential["id"]}
        return ExchangeView(credential, secret, roles, api_access)

    def credential_for_token(self, token_hash: str, now_ts: float) -> dict[str, Any] | None:
        sql = (
            "SELECT c.* FROM access_tokens t JOIN credentials c ON c.id = t.credential_id "
            "WHERE t.hash = ? AND t.expires_ts > ?"
        )
        rows = self._all("credentials", sql, (token_hash, now_ts))
        return rows[0] if rows else None

    def add_access_token(self, token_hash: str, secret: dict[str, Any], expires_ts: float) -> None:
        """Store a token minted from `secret`; revoking that secret deletes it (ON DELETE CASCADE)."""
        if self._housekeeping.due("access_tokens"):
            self._execute("DELETE FROM access_tokens WHERE expires_ts <= ?", (expires_ts - 3600,))
        self._execute(
            "INSERT INTO access_tokens (hash, credential_id, secret_id, expires_ts) VALUES (?, ?, ?, ?)",
            (token_hash, secret["credential_id"], secret["id"], expires_ts),
        )

    def end_access_tokens(self, credential_id: str) -> None:
        """Every access token of the credential stops working (a disable must not be undone by an enable)."""
        self._execute("DELETE FROM access_tokens WHERE credential_id = ?", (credential_id,))

    # -- idempotency records (bodies are stored with secrets already removed)
    def idempotent_response(self, principal: str, key: str) -> dict[str, Any] | None:
        sql = "SELECT request_hash, status, body, etag FROM idempotency WHERE principal = ? AND key = ?"
        rows = list(self._rows(sql, (principal, key)))
        return dict(rows[0]) if rows else None

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
        if self._housekeeping.due("idempotency"):
            self._execute("DELETE FROM idempotency WHERE created_ts < ?", (now_ts - keep_seconds,))
        self._execute(
            "INSERT INTO idempotency (principal, key, request_hash, status, body, etag, created_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (principal, key, request_hash, status, body, etag, now_ts),
        )

    # -- locks and demo data
    def live_locks(self, now_ts: float) -> list[dict[str, Any]]:
        sql = "SELECT * FROM locks WHERE expires_ts > ? ORDER BY seq"
        return self._all("locks", sql, (now_ts,))

    def purge_expired_locks(self, now_ts: float) -> None:
        self._execute("DELETE FROM locks WHERE expires_ts <= ?", (now_ts,))

    def records(self, module: str) -> list[dict[str, Any]]:
        sql = "SELECT * FROM records WHERE module = ? ORDER BY seq"
        return self._all("records", sql, (module,))


class Storage:
    """A database with the schema in place, handing out transactions; `name` never shows a password."""

    name: str

    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]:
        """A read or write transaction: committed when the block ends, rolled back on any error."""
        raise NotImplementedError

    def run(self, work: Callable[[Transaction], T], *, write: bool) -> T:
        """`work(tx)` in one transaction; a backend whose writers can conflict runs it again on a conflict."""
        with self.transaction(write=write) as tx:
            return work(tx)

    def close(self) -> None:
        """Release every connection (call after the last request has finished)."""
        raise NotImplementedError
