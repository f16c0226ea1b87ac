"""Server capacity: token exchanges and data-API reads per second, p50/p99, at 1, 8 and 32 clients.

    .venv/bin/pip install -q -e '.[test]' && .venv/bin/python bench/capacity.py   # ~2 minutes

Three set-ups, each `keyform server` as its own process on a free loopback port: one replica on
SQLite, one on PostgreSQL, two on one PostgreSQL database (the load generator spreads its clients
over both, as a load balancer would). PostgreSQL is the tests' private cluster (tests/pg.py: initdb
in a temporary folder, durability settings off, so figures compare the server, not the disk).
The load generator, bench/load.py, runs in a separate process. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pg import Cluster, find_bin_dir  # noqa: E402 - the one place that starts a private cluster

LISTENING = "keyform server listening on "
CLIENTS = (1, 8, 32)


@contextmanager
def replica(db: str, env: dict[str, str], *args: str) -> Iterator[str]:
    """A server process; its stderr goes to a file, never to a pipe nobody reads while it serves."""
    command = [sys.executable, "-m", "keyform", "server", "--db", db, "--port", "0", *args]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        try:
            line = process.stdout.readline()
            if not line.startswith(LISTENING):
                process.wait(timeout=60)
                log.seek(0)
                raise RuntimeError(f"the server did not start: {line}{log.read()}")
            yield line.removeprefix(LISTENING).strip()
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


def credential(url: str, owner_token: str) -> tuple[str, str, str]:
    """A credential that reads employees: (client id, client secret, an access token)."""
    headers = {"Authorization": f"Bearer {owner_token}"}
    body = {"name": "bench", "permissions": {"employees": ["read"]}}
    created = requests.post(f"{url}/v1/credentials", json=body, headers=headers, timeout=30).json()
    exchange = {"grant_type": "client_credentials", "client_id": created["client_id"]}
    exchange["client_secret"] = created["client_secret"]
    token = requests.post(f"{url}/v1/oauth/token", json=exchange, headers=headers, timeout=30).json()["access_token"]
    return created["client_id"], created["client_secret"], token


def load(urls: list[str], op: str, clients: int, seconds: float, secrets: tuple[str, str, str]) -> dict:
    client_id, client_secret, token = secrets
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--urls", ",".join(urls), "--op", op]
    command += ["--clients", str(clients), "--seconds", str(seconds), "--client-id", client_id]
    command += ["--client-secret", client_secret, "--token", token]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def measure(name: str, db: str, replicas: int, env: dict[str, str], seconds: float, folder: Path) -> list[str]:
    token_file = folder / f"{name.replace(' ', '-')}.key"
    rows = []
    with ExitStack() as stack:
        urls = [
            stack.enter_context(replica(db, env, "--init-owner", "owner@example.com", "--token-file", str(token_file)))
        ]
        urls += [stack.enter_context(replica(db, env)) for _ in range(replicas - 1)]
        secrets = credential(urls[0], token_file.read_text().strip())
        for op, label in (("token", "token exchange"), ("read", "data-API read")):
            for clients in CLIENTS:
                r = load(urls, op, clients, seconds, secrets)
                rows.append(
                    f"| {name} | {label} | {clients} | {r['per_second']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
                    f"| {r['errors']} |"
                )
                print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL not found: apt-get install postgresql, or pip install pgserver")
    print(f"load average at the start {os.getloadavg()[0]:.1f}", file=sys.stderr)
    rows = [
        "| set-up | operation | clients | per second | p50 (ms) | p99 (ms) | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = dict(os.environ)
        rows += measure("1 replica, SQLite", str(folder / "bench.db"), 1, env, args.seconds, folder)
        cluster = Cluster.start(bin_dir)
        try:
            env["PGPASSWORD"] = cluster.password
            for name, count in (("1 replica, PostgreSQL", 1), ("2 replicas, PostgreSQL", 2)):
                url = cluster.create_database().replace(f":{cluster.password}@", "@")
                rows += measure(name, url, count, env, args.seconds, folder)
        finally:
            cluster.stop()
    print("\n".join(rows))
    print(f"load average at the end {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
