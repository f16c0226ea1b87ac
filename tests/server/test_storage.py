"""Storage: WAL, foreign keys, all-or-nothing transactions, one query per list page."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from keyform.server import credentials, users
from keyform.server.context import Context, Stats
from keyform.server.runner import init_organization, running_server
from keyform.server.storage import Storage, open_storage
from keyform.server.tokens import now
from keyform.server.web import Request

from .conftest import Api


@pytest.fixture
def storage(db_path: Path):
    init_organization(db_path, "owner@example.com")
    store = open_storage(db_path)
    yield store
    store.close()


def test_wal_and_foreign_keys(storage: Storage) -> None:
    with storage.transaction(write=False) as tx:
        assert tx._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert tx._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_failed_transaction_leaves_nothing(storage: Storage) -> None:
    row = {"id": "rol_x", "name": "x", "description": "", "permissions": {}, "attributes": []}
    row.update(managed_by=None, version=1, created_at="t", updated_at="t")
    with pytest.raises(RuntimeError), storage.transaction(write=True) as tx:
        tx.insert("roles", row)
        raise RuntimeError("boom")
    with storage.transaction(write=False) as tx:
        assert tx.get("roles", "rol_x") is None
    with pytest.raises(ValueError, match="unknown table"), storage.transaction(write=False) as tx:
        tx.get("roles; DROP TABLE users", "x")


def list_statements(storage: Storage, module, path: str, limit: int) -> tuple[int, int]:
    """(SQL statements executed, items returned) for one list page."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": f"limit={limit}"}
    statements: list[str] = []
    with storage.transaction(write=False) as tx:
        tx._conn.set_trace_callback(statements.append)
        try:
            response = module(Context(Request.from_environ(environ), tx, None, {}, now(), Stats()))
        finally:
            tx._conn.set_trace_callback(None)
    return len(statements), len(json.loads(response.body)["items"])


def test_list_pages_make_a_constant_number_of_queries(storage: Storage) -> None:
    with storage.transaction(write=True) as tx:
        role = {"id": "rol_1", "name": "r", "description": "", "permissions": {}, "attributes": []}
        tx.insert("roles", {**role, "managed_by": None, "version": 1, "created_at": "t", "updated_at": "t"})
        for n in range(30):
            user = {"id": f"usr_{n}", "email": f"u{n}@x.io", "email_lower": f"u{n}@x.io", "first_name": "",
                    "last_name": "", "job_title": "", "default_folder": "", "role": "standard",
                    "cognitive_access": False, "archived": False, "managed_by": None, "version": 1,
                    "created_at": "t", "updated_at": "t"}  # fmt: skip
            tx.insert("users", user)
            tx.set_roles("users", user["id"], ["rol_1"])
            cred = {"id": f"cred_{n}", "name": f"c{n}", "integration": "", "enabled": True,
                    "permissions": {}, "attributes": [], "client_id": f"kfc_{n}", "managed_by": None,
                    "version": 1, "created_at": "t", "updated_at": "t"}  # fmt: skip
            tx.insert("credentials", cred)
            tx.set_roles("credentials", cred["id"], ["rol_1"])
    for handler, path in ((users.list_users, "/v1/users"), (credentials.list_credentials, "/v1/credentials")):
        small = list_statements(storage, handler, path, 2)
        large = list_statements(storage, handler, path, 25)
        assert (small[1], large[1]) == (2, 25)
        assert small[0] == large[0] == 1  # the database renders the page


def test_a_version_1_database_opens_and_issues_tokens(db_path: Path) -> None:
    """Version 1 stored tokens without their secret: they are dropped, and exchanges work again."""
    owner_key = init_organization(db_path, "owner@example.com")
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TABLE access_tokens; CREATE TABLE access_tokens (hash TEXT PRIMARY KEY, credential_id TEXT NOT NULL"
        " REFERENCES credentials (id) ON DELETE CASCADE, expires_ts REAL NOT NULL); PRAGMA user_version = 1;"
    )
    conn.close()
    with running_server(db_path) as server:
        server.owner_token = owner_key
        api = Api(server)
        try:
            token = api.token(api.credential(permissions={"employees": ["read"]}))
            assert api.session(token).get("/v1/data/employees").status_code == 200
        finally:
            api.close()
