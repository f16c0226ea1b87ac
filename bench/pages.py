"""Server time of one list page: GET /v1/users and /v1/credentials with limit=500, no HTTP.

    .venv/bin/python bench/pages.py        # ~20 seconds

Calls the WSGI application in this process (so the figure is the server's own time: routing,
authentication, the page's query, encoding), on SQLite and on the tests' private PostgreSQL
cluster, over 1,000 users (each with an API key and a role) and 1,000 credentials (each with a
secret and a role). Prints the median and the best wall time of 50 calls per page, and their mean
CPU time: this process's plus, on PostgreSQL, the cluster's processes' (read from /proc). On a
shared machine the CPU time is the steadier figure: waiting for a core adds wall time only.
"""

from __future__ import annotations

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

from tests.pg import Cluster, find_bin_dir  # noqa: E402

from keyform.server.app import CredentialApp  # noqa: E402
from keyform.server.runner import init_organization  # noqa: E402

N = 1000
CALLS = 50
STAMP = "2026-01-01T00:00:00Z"


def seed(app: CredentialApp) -> None:
    with app.storage.transaction(write=True) as tx:
        role = {"id": "rol_bench", "name": "bench", "description": "", "permissions": {}, "attributes": []}
        tx.insert("roles", {**role, "managed_by": None, "version": 1, "created_at": STAMP, "updated_at": STAMP})
        for n in range(N):
            user = {"id": f"usr_{n:05}", "email": f"u{n}@example.com", "email_lower": f"u{n}@example.com"}
            user.update(first_name="Ada", last_name="Lovelace", job_title="", default_folder="", role="standard")
            user.update(cognitive_access=False, archived=False, managed_by="keyform", version=1)
            tx.insert("users", {**user, "created_at": STAMP, "updated_at": STAMP})
            key = {"id": f"key_{n}", "user_id": user["id"], "hash": f"h{n}", "prefix": "kfk_abcd", "enabled": True}
            tx.insert("api_keys", {**key, "created_at": STAMP})
            tx.set_roles("users", user["id"], ["rol_bench"])
            cred = {"id": f"cred_{n}", "name": f"c{n}", "integration": "", "enabled": True, "attributes": []}
            cred.update(permissions={"employees": ["read"]}, client_id=f"kfc_{n}", managed_by="keyform", version=1)
            tx.insert("credentials", {**cred, "created_at": STAMP, "updated_at": STAMP})
            tx.insert(
                "client_secrets", {"id": f"sec_{n}", "credential_id": cred["id"], "hash": f"s{n}", "created_at": STAMP}
            )
            tx.set_roles("credentials", cred["id"], ["rol_bench"])


def postgres_cpu(cluster: Cluster) -> float:
    """CPU seconds used so far by the cluster's postmaster and its children (backends, workers)."""
    postmaster = int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def page_times(app: CredentialApp, token: str, path: str, cpu: Callable[[], float]) -> tuple[list[float], float]:
    """The wall time of each call, and the mean CPU time of a call."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "limit=500"}
    environ.update({"HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.input": io.BytesIO(b"")})
    times = []
    for _ in range(5):
        body = b"".join(app(dict(environ), lambda status, headers: None))
    cpu_before = cpu()
    for _ in range(CALLS):
        start = time.perf_counter()
        body = b"".join(app(dict(environ), lambda status, headers: None))
        times.append(time.perf_counter() - start)
    cpu_used = cpu() - cpu_before
    assert len(json.loads(body)["items"]) == 500
    return times, cpu_used / CALLS


def measure(name: str, target: str, database_cpu: Callable[[], float] = lambda: 0.0) -> None:
    token = init_organization(target, "owner@example.com")
    app = CredentialApp(target)
    try:
        seed(app)
        for path in ("/v1/users", "/v1/credentials"):
            times, cpu = page_times(app, token, path, lambda: time.process_time() + database_cpu())
            median, best = statistics.median(times) * 1000, min(times) * 1000
            print(f"| {name} | GET {path}?limit=500 | {median:.1f} | {best:.1f} | {cpu * 1000:.1f} |")
    finally:
        app.close()


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| backend | page | median (ms) | best (ms) | CPU (ms) |\n|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", str(Path(tmp) / "pages.db"))
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL not found: apt-get install postgresql, or pip install pgserver", file=sys.stderr)
        return
    cluster = Cluster.start(bin_dir)
    try:
        measure("PostgreSQL", cluster.create_database(), lambda: postgres_cpu(cluster))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
