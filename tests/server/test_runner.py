"""The runner: initialisation, restart, keep-alive, concurrency, clean stop, hashed storage."""

from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from keyform.errors import KeyformError
from keyform.server import init_organization, running_server

from .conftest import OWNER_EMAIL, Api, ApiSession, error_of


def test_init_needs_an_empty_database(db: str) -> None:
    token = init_organization(db, OWNER_EMAIL)
    assert token.startswith("kfk_") and len(token) == 44
    with pytest.raises(KeyformError, match="already has an organisation"):
        init_organization(db, "second@example.com")
    with (
        pytest.raises(KeyformError, match="already has an organisation"),
        running_server(db, init_owner=OWNER_EMAIL),
    ):
        pass


def test_init_rejects_a_bad_email_and_serving_needs_an_organisation(tmp_path: Path) -> None:
    with pytest.raises(KeyformError, match="not a valid email"):
        init_organization(tmp_path / "a.db", "nobody")
    with pytest.raises(KeyformError, match="has no organisation yet"), running_server(tmp_path / "b.db"):
        pass


def test_restart_keeps_data_and_frees_the_port(db: str) -> None:
    with running_server(db, init_owner=OWNER_EMAIL) as server, ApiSession(server.url, server.owner_token) as s:
        assert s.post("/v1/roles", json={"name": "kept"}).status_code == 201
        token, port = server.owner_token, int(server.url.rsplit(":", 1)[1])
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))
    with running_server(db) as again, ApiSession(again.url, token) as s:
        assert again.owner_token is None
        assert [r["name"] for r in s.get("/v1/roles").json()["items"]] == ["kept"]


def test_keep_alive_uses_one_connection(api: Api) -> None:
    before = api.owner.get("/v1/server/stats").json()
    with ApiSession(api.url, api.server.owner_token) as session:
        for _ in range(50):
            assert session.get("/v1/whoami").status_code == 200
    after = api.owner.get("/v1/server/stats").json()
    assert after["connections"] - before["connections"] == 1
    assert after["requests"] - before["requests"] == 51


@pytest.mark.sqlite_only
def test_concurrent_writers(api: Api, db_path: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[int] = []

    def create(name: str) -> None:
        with ApiSession(api.url, api.server.owner_token) as session:
            barrier.wait()
            results.append(session.post("/v1/credentials", json={"name": name}).status_code)

    names = [f"c{i}" for i in range(8)] + ["same"] * 8
    for batch in (names[:8], names[8:]):
        threads = [threading.Thread(target=create, args=(name,)) for name in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [201] * 9 + [409] * 7
    items = api.owner.get("/v1/credentials").json()["items"]
    assert sorted(c["name"] for c in items) == sorted(set(names))
    assert all(len(c["secrets"]) == 1 for c in items)
    audit = api.owner.get("/v1/audit", params={"limit": 1000}).json()["items"]
    assert len([e for e in audit if e["action"] == "credential.create"]) == 9
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


@pytest.mark.sqlite_only
def test_secrets_never_reach_the_database_files(api: Api, db_path: Path) -> None:
    user, key = api.user()
    credential = api.credential()
    rotated = api.owner.post(f"/v1/credentials/{credential['id']}/secrets").json()["client_secret"]
    token = api.token(credential)
    replayed = api.owner.post("/v1/credentials", json={"name": "r"}, headers={"Idempotency-Key": "k"})
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert {p.name for p in files} >= {db_path.name, db_path.name + "-wal"}
    data = b"".join(p.read_bytes() for p in files)
    secrets = [key, credential["client_secret"], rotated, token, replayed.json()["client_secret"]]
    for secret in [*secrets, api.server.owner_token]:
        assert secret.encode() not in data
        assert secret[4:].encode() not in data
    assert user["email"].encode() in data  # the check does see the files' contents
    status, code, message = error_of(api.session("kft_" + "x" * 40).get("/v1/whoami"))
    assert (status, code) == (401, "unauthorized") and "invalid or expired" in message
