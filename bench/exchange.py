"""Server time of one token exchange (POST /v1/oauth/token), no HTTP, on SQLite and PostgreSQL.

    .venv/bin/python bench/exchange.py [--calls N] [--rounds R]

Calls the WSGI application in this process, as bench/pages.py does, and prints per backend the
median and best wall time of N exchanges and their mean CPU time: this process's plus, on
PostgreSQL, the cluster's processes' (from /proc). Each exchange is a write transaction that reads
the credential, its secret, its roles and the organisation and stores the token's hash.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pages import postgres_cpu  # noqa: E402
from tests.pg import Cluster, find_bin_dir  # noqa: E402

from keyform.server.app import CredentialApp  # noqa: E402
from keyform.server.runner import init_organization  # noqa: E402


def call(app: CredentialApp, environ: dict, body: bytes) -> bytes:
    statuses = []
    out = b"".join(app({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("20"), out
    return out


def exchange_times(app: CredentialApp, owner: str, calls: int, cpu: Callable[[], float]) -> tuple[list[float], float]:
    """The wall time of each exchange, and the mean CPU time of one."""
    manage = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/credentials", "CONTENT_TYPE": "application/json"}
    manage["HTTP_AUTHORIZATION"] = f"Bearer {owner}"
    role = {"name": "reader", "permissions": {"absences": ["read"]}}
    call(app, {**manage, "PATH_INFO": "/v1/roles"}, json.dumps(role).encode())
    credential = {"name": "bench", "permissions": {"employees": ["read"]}, "roles": ["reader"]}
    created = json.loads(call(app, manage, json.dumps(credential).encode()))
    fields = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    body = json.dumps(fields).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/oauth/token", "CONTENT_TYPE": "application/json"}
    environ["CONTENT_LENGTH"] = str(len(body))
    for _ in range(20):
        call(app, environ, body)
    times = []
    cpu_before = cpu()
    for _ in range(calls):
        start = time.perf_counter()
        call(app, environ, body)
        times.append(time.perf_counter() - start)
    return times, (cpu() - cpu_before) / calls


def measure(name: str, target: str, calls: int, database_cpu: Callable[[], float] = lambda: 0.0) -> str:
    owner = init_organization(target, "owner@example.com")
    app = CredentialApp(target)
    try:
        times, cpu = exchange_times(app, owner, calls, lambda: time.process_time() + database_cpu())
    finally:
        app.close()
    median, best = statistics.median(times) * 1000, min(times) * 1000
    return f"| {name} | {median:.2f} | {best:.2f} | {cpu * 1000:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| backend | median (ms) | best (ms) | CPU (ms) |\n|---|---:|---:|---:|")
    bin_dir = find_bin_dir()
    cluster = Cluster.start(bin_dir) if bin_dir else None
    try:
        for _ in range(args.rounds):
            if not args.no_sqlite:
                with tempfile.TemporaryDirectory() as tmp:
                    print(measure("SQLite", str(Path(tmp) / "exchange.db"), args.calls), flush=True)
            if cluster is not None:
                print(
                    measure("PostgreSQL", cluster.create_database(), args.calls, lambda: postgres_cpu(cluster)),
                    flush=True,
                )
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
