"""Several `keyform server` processes on one PostgreSQL database behave as one server.

The replicas are real processes (as in production, behind a load balancer); the password reaches
them the documented way, through libpq's PGPASSWORD, never on the command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from keyform.server.storage.postgresql import MIGRATIONS
from tests.pg import Cluster

LISTENING = "keyform server listening on "
THREADS = 12


class Replica:
    """One `keyform server` process; `url` once it listens, `error` (stderr) if it exited instead."""

    def __init__(self, cluster: Cluster, url: str, *args: str):
        env = {**os.environ, "PGPASSWORD": cluster.password}
        command = [sys.executable, "-m", "keyform", "server", "--db", url, "--port", "0", *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.url: str | None = None
        self.error = ""

    def wait_ready(self) -> Replica:
        line = self.process.stdout.readline()  # blocks until it listens or exits
        if line.startswith(LISTENING):
            self.url = line.removeprefix(LISTENING).strip()
        else:
            self.process.wait(timeout=60)
            self.error = self.process.stderr.read()
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.process.stdout.close()
        self.process.stderr.close()


@contextmanager
def replicas(cluster: Cluster, url: str, count: int, *args: str) -> Iterator[list[Replica]]:
    """`count` replicas started at the same moment (each waits only after all were spawned)."""
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            replica = Replica(cluster, url, *args)
            stack.callback(replica.stop)
            started.append(replica)
        yield [replica.wait_ready() for replica in started]


def test_replicas_starting_together_migrate_once_and_initialise_once(pg_cluster: Cluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database()
    no_password = url.replace(f":{pg_cluster.password}@", "@")
    token_files = [tmp_path / f"owner{n}.key" for n in range(3)]
    with ExitStack() as stack:
        started = []
        for token_file in token_files:
            replica = Replica(
                pg_cluster, no_password, "--init-owner", "owner@example.com", "--token-file", str(token_file)
            )
            stack.callback(replica.stop)
            started.append(replica)
        ready = [replica.wait_ready() for replica in started]
        serving = [replica for replica in ready if replica.url]
        assert len(serving) == 1, [replica.error for replica in ready]
        for replica in ready:
            if not replica.url:
                assert replica.error.strip().splitlines() == [
                    f"Error: database {no_password} already has an organisation; "
                    "start without --init-owner to keep using it"
                ]
        assert [f.exists() for f in token_files].count(True) == 1
        token = next(f for f in token_files if f.exists()).read_text().strip()
        with replicas(pg_cluster, no_password, 2) as more:
            for replica in [*serving, *more]:
                assert replica.url, replica.error
                whoami = requests.get(f"{replica.url}/v1/whoami", headers={"Authorization": f"Bearer {token}"})
                assert whoami.json()["principal"]["name"] == "owner@example.com"
    with pg_cluster.connect(url.rsplit("/", 1)[1]) as conn:
        applied = conn.execute("SELECT version FROM keyform_schema ORDER BY version").fetchall()
        assert [row[0] for row in applied] == [version for version, _, _ in MIGRATIONS]
        assert conn.execute("SELECT count(*) FROM organization").fetchone()[0] == 1
    pg_cluster.drop_database(url)


# -- the hammer: conflicting writes through three replicas at once


class ReplicaSet:
    """Replicas on one database, an owner's key, and a way to fire requests all at once."""

    def __init__(self, urls: list[str], token: str):
        self.urls = urls
        self.token = token

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    def call(self, n: int, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request through replica n % 3."""
        kwargs.setdefault("headers", self.headers())
        return requests.request(method, self.urls[n % len(self.urls)] + path, timeout=60, **kwargs)

    def at_once(self, count: int, request: Callable[[int], requests.Response]) -> list[requests.Response]:
        """`request(n)` for n in range(count), from `count` threads released together."""
        barrier = threading.Barrier(count)
        results: list[requests.Response | None] = [None] * count

        def run(n: int) -> None:
            barrier.wait(timeout=60)
            results[n] = request(n)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(result is not None for result in results), "a request thread did not finish"
        return [result for result in results if result is not None]


@pytest.fixture
def three(pg_cluster: Cluster, tmp_path: Path) -> Iterator[tuple[ReplicaSet, str]]:
    url = pg_cluster.create_database()
    no_password = url.replace(f":{pg_cluster.password}@", "@")
    token_file = tmp_path / "owner.key"
    with (
        replicas(
            pg_cluster, no_password, 1, "--init-owner", "owner@example.com", "--token-file", str(token_file)
        ) as first,
        replicas(pg_cluster, no_password, 2) as others,
    ):
        urls = [replica.url for replica in [*first, *others]]
        assert all(urls), [replica.error for replica in [*first, *others]]
        yield ReplicaSet([u for u in urls if u], token_file.read_text().strip()), url
    pg_cluster.drop_database(url)


def statuses(responses: list[requests.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def test_conflicting_writes_through_three_replicas_keep_every_invariant(
    three: tuple[ReplicaSet, str], pg_cluster: Cluster
) -> None:
    api, url = three
    # the same email, in varying case, created through every replica at once: one user
    body = {"first_name": "S", "last_name": "Ame"}
    emails = [("same@example.com" if n % 2 else "SAME@example.com") for n in range(THREADS)]
    created = api.at_once(THREADS, lambda n: api.call(n, "POST", "/v1/users", json={"email": emails[n], **body}))
    assert statuses(created) == {201: 1, 409: THREADS - 1}, [r.text for r in created]

    # one Idempotency-Key retried through every replica: one credential, one answer
    idem = api.headers(**{"Idempotency-Key": "retry-1"})
    posted = api.at_once(THREADS, lambda n: api.call(n, "POST", "/v1/credentials", json={"name": "idem"}, headers=idem))
    assert statuses(posted) == {201: THREADS}, [r.text for r in posted]
    assert len({r.json()["id"] for r in posted}) == 1
    assert [r.headers.get("Idempotent-Replayed") for r in posted].count(None) == 1

    # one user's API key regenerated through every replica: one key left, and it works
    user = next(r.json() for r in created if r.status_code == 201)
    keys = api.at_once(THREADS, lambda n: api.call(n, "POST", f"/v1/users/{user['id']}/api-key"))
    assert statuses(keys) == {201: THREADS}
    working = [
        r.json()["api_key"]
        for r in keys
        if api.call(0, "GET", "/v1/whoami", headers=api.headers(r.json()["api_key"])).ok
    ]
    assert len(working) == 1

    # four owners each demote themselves at once: three may, the last one with a working key may not
    owners = [api.call(0, "GET", "/v1/whoami").json()["principal"]]
    tokens = [api.token]
    for n in range(3):
        new = api.call(
            n,
            "POST",
            "/v1/users",
            json={"email": f"o{n}@example.com", "first_name": "O", "last_name": "W", "role": "account_owner"},
        ).json()
        owners.append(new)
        tokens.append(api.call(n, "POST", f"/v1/users/{new['id']}/api-key").json()["api_key"])
    demoted = api.at_once(
        4,
        lambda n: api.call(
            n, "PATCH", f"/v1/users/{owners[n]['id']}", json={"role": "account_admin"}, headers=api.headers(tokens[n])
        ),
    )
    assert statuses(demoted) == {200: 3, 409: 1}, [r.text for r in demoted]
    assert "last Account Owner with a working API key" in next(
        r.json()["message"] for r in demoted if r.status_code == 409
    )

    # one apply lock, requested through every replica
    locks = api.at_once(THREADS, lambda n: api.call(n, "POST", "/v1/locks", json={"owner": f"ci-{n}"}))
    assert statuses(locks) == {201: 1, 409: THREADS - 1}

    # one If-Match version, many writers: one wins, the rest get 412
    last = next(tokens[n] for n in range(4) if demoted[n].status_code == 409)
    role = api.call(0, "POST", "/v1/roles", json={"name": "contended"}, headers=api.headers(last)).json()
    patched = api.at_once(
        THREADS,
        lambda n: api.call(
            n,
            "PATCH",
            f"/v1/roles/{role['id']}",
            json={"description": f"writer {n}"},
            headers=api.headers(last, **{"If-Match": role["etag"]}),
        ),
    )
    assert statuses(patched) == {200: 1, 412: THREADS - 1}, [r.text for r in patched]

    with pg_cluster.connect(url.rsplit("/", 1)[1]) as conn:

        def one(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]

        assert one("SELECT count(*) FROM users WHERE email_lower = 'same@example.com'") == 1
        assert one("SELECT count(*) FROM (SELECT email_lower FROM users GROUP BY 1 HAVING count(*) > 1) d") == 0
        assert one("SELECT max(n) FROM (SELECT count(*) AS n FROM api_keys GROUP BY user_id) k") == 1
        assert one(f"SELECT count(*) FROM api_keys WHERE user_id = '{user['id']}'") == 1
        assert one("SELECT count(*) FROM idempotency WHERE key = 'retry-1'") == 1
        assert one("SELECT count(*) FROM credentials WHERE name = 'idem'") == 1
        working_owners = (
            "SELECT count(*) FROM users u JOIN api_keys k ON k.user_id = u.id "
            "WHERE u.role = 'account_owner' AND NOT u.archived AND k.enabled"
        )
        assert one(working_owners) == 1
        assert one("SELECT count(*) FROM locks") == 1
        actions = Counter(row[0] for row in conn.execute("SELECT action FROM audit").fetchall())
    # every committed write left exactly one audit entry, and nothing else did
    assert actions["user.create"] == 1 + 3
    assert actions["credential.create"] == 1
    assert actions["user.api_key.create"] == THREADS + 3
    assert actions["user.update"] == 3
    assert actions["lock.create"] == 1
    assert actions["role.create"] == 1 and actions["role.update"] == 1
