"""`keyform server --db postgresql://...`: a database URL's password is a secret, never printed or logged."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from keyform.server.runner import init_organization, running_server
from tests.pg import Cluster

from .conftest import Api
from .test_replicas import LISTENING

SECRET = "s3cr3t-Pw"


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "keyform", "server", "--port", "0", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )


def test_a_bad_database_url_is_one_line_without_its_password(pg_cluster: Cluster) -> None:
    at = f"127.0.0.1:{pg_cluster.port}/postgres"
    cases = {  # --db value -> what the one-line error must say
        f"postgresql://keyform_test:{SECRET}@{at}": (
            f"Error: cannot open database postgresql://keyform_test:<hidden>@{at}: ",
            "password authentication failed",
        ),
        f"postgresql://keyform_test:{SECRET}%zz@{at}": ("Error: cannot open database ", "percent-encoded"),
        f"postgresql://keyform_test:{SECRET} x@{at}": ("Error: cannot open database ", "spaces"),
        f"postgresql://keyform_test@{at}?password={SECRET}&sslmode=bogus": (
            f"Error: cannot open database postgresql://keyform_test@{at}?password=<hidden>&sslmode=bogus: ",
            "sslmode",
        ),
        f"postgresql://keyform_test:{SECRET}@[::1/postgres": ("Error: cannot open database ", "IPv6"),
        f"mysql://keyform_test:{SECRET}@{at}": (
            f"Error: --db mysql://keyform_test:<hidden>@{at}: unsupported database URL; ",
            "postgresql://",
        ),
    }
    processes = {url: run_server("--db", url) for url in cases}
    processes["env"] = run_server(env={"KEYFORM_DATABASE_URL": f"postgresql://keyform_test:{SECRET}@{at}"})
    cases["env"] = cases[f"postgresql://keyform_test:{SECRET}@{at}"]
    for url, process in processes.items():
        out, err = process.communicate(timeout=60)
        start, reason = cases[url]
        assert process.returncode == 1, (url, out, err)
        assert SECRET not in out + err and "s3cr3t" not in out + err, (url, err)
        assert out == "" and len(err.splitlines()) == 1, (url, err)
        assert err.startswith(start) and reason in err, (url, err)


def test_a_serving_replica_never_logs_the_password(pg_cluster: Cluster) -> None:
    """With the password in the URL (discouraged), losing every connection still logs no password."""
    url = pg_cluster.create_database()
    token = init_organization(url, "owner@example.com")
    process = run_server("--db", url)
    try:
        line = process.stdout.readline()
        assert line.startswith(LISTENING), process.stderr.read()
        base = line.removeprefix(LISTENING).strip()
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/v1/whoami", headers=headers, timeout=30).status_code == 200
        with pg_cluster.connect() as admin:  # the database drops every connection of the replica
            name = url.rsplit("/", 1)[1]
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        for _ in range(3):
            requests.get(f"{base}/v1/whoami", headers=headers, timeout=30)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=60)
    assert pg_cluster.password not in out + err
    pg_cluster.drop_database(url)


def test_secrets_never_reach_the_postgresql_database(pg_cluster: Cluster) -> None:
    """Keys, client secrets, tokens and replayed bodies are stored as hashes or not at all (pg_dump sees it all)."""
    url = pg_cluster.create_database()
    with running_server(url, init_owner="owner@example.com") as server:
        api = Api(server)
        try:
            user, key = api.user()
            credential = api.credential()
            rotated = api.owner.post(f"/v1/credentials/{credential['id']}/secrets").json()["client_secret"]
            token = api.token(credential)
            replayed = api.owner.post("/v1/credentials", json={"name": "r"}, headers={"Idempotency-Key": "k"})
        finally:
            api.close()
    dump = subprocess.run(
        [str(pg_cluster.bin_dir / "pg_dump"), "--data-only", url],
        capture_output=True,
        check=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    ).stdout
    for secret in [
        key,
        credential["client_secret"],
        rotated,
        token,
        replayed.json()["client_secret"],
        server.owner_token,
    ]:
        assert secret.encode() not in dump and secret[4:].encode() not in dump
    assert user["email"].encode() in dump  # the check does see the data
    pg_cluster.drop_database(url)
