"""The Keystone case: a no-op `keyform plan` over N users and N application credentials against a
real Keystone, next to a bare fetch floor of the same listings against the same server.

    .venv/bin/pip install -q -e '.[test]' && .venv/bin/python bench/keystone.py [N]   # N=1000: ~10 min

It starts the test suite's Keystone (tests/keystone_server.py: its own cached venv, SQLite, on a
free loopback port), seeds one project, N service users marked as keyform's (each holding member
on it) and one application credential per user (created as that user, named as keyform names
them), writes the matching desired state, then interleaves floor and plan runs (5 each) and
reports the median wall time of each as a whole process and the requests each sends (requests =
pages: Keystone lists application credentials only per user, so N of them are one listing each).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import timed  # noqa: E402
from tests.keystone_server import bootstrapped_server  # noqa: E402

RUNS = 5
FLOOR = r"""
import sys, requests
url, user, password = sys.argv[1:4]
count = 0
with requests.Session() as s:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user,
            "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    r = s.post(url + "/auth/tokens", json=body, timeout=60); r.raise_for_status(); count += 1
    s.headers["X-Auth-Token"] = r.headers["X-Subject-Token"]
    def get(path, params=None):
        global count
        r = s.get(path if path.startswith("http") else url + path, params=params, timeout=60)
        r.raise_for_status(); count += 1
        return r.json()
    get("/domains")
    users = []
    for kind in ("projects", "users"):
        body = get(f"/{kind}", {"limit": 1000})
        items = list(body[kind])
        while body["links"].get("next"):
            body = get(body["links"]["next"]); items += body[kind]
        if kind == "users":
            users = items
    for path in ("/roles", "/role_inferences", "/role_assignments"):
        get(path)
    for user in users:
        if user.get("managed_by") == "keyform":
            get(f"/users/{user['id']}/application_credentials")
print(count)
"""


def seed(url: str, admin_password: str, n: int) -> dict:
    """One project, n users with member on it, one credential each; returns the desired state."""
    session = requests.Session()
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": admin_password}},
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    token = session.post(url + "/auth/tokens", json=body, timeout=60).headers["X-Subject-Token"]
    session.headers["X-Auth-Token"] = token
    project = {"name": "bench", "domain_id": "default", "tags": ["keyform-managed"], "description": ""}
    project_id = session.post(url + "/projects", json={"project": project}, timeout=60).json()["project"]["id"]
    roles = session.get(url + "/roles", timeout=60).json()["roles"]
    member = next(role["id"] for role in roles if role["name"] == "member")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    users, credentials = {}, {}
    for i in range(n):
        name, password = f"svc-{i:05d}", f"pw-{i}-bench-only"
        user = {"name": name, "domain_id": "default", "password": password, "managed_by": "keyform"}
        user_id = session.post(url + "/users", json={"user": user}, timeout=60).json()["user"]["id"]
        session.put(f"{url}/projects/{project_id}/users/{user_id}/roles/{member}", timeout=60).raise_for_status()
        login = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}},
                "scope": {"project": {"id": project_id}},
            }
        }
        owner = requests.post(url + "/auth/tokens", json=login, timeout=60).headers["X-Subject-Token"]
        credential = {"name": f"ci-{i:05d}@{stamp}", "roles": [{"name": "member"}], "expires_at": "2030-01-01T00:00:00"}
        requests.post(
            f"{url}/users/{user_id}/application_credentials",
            json={"application_credential": credential},
            headers={"X-Auth-Token": owner},
            timeout=60,
        ).raise_for_status()
        users[name] = {"projects": {"bench": ["member"]}}
        credentials[f"ci-{i:05d}"] = {
            "owner": name,
            "project": "bench",
            "roles": ["member"],
            "expires_at": "2030-01-01T00:00:00Z",
        }
    return {"projects": {"bench": {}}, "users": users, "application_credentials": credentials}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        server = bootstrapped_server(Path(folder) / "keystone")
        try:
            started = time.perf_counter()
            state = seed(server.url, server.admin_password, n)
            print(f"seeded {n} users and {n} credentials in {time.perf_counter() - started:.0f} s", flush=True)
            work = Path(folder) / "work"
            work.mkdir()
            document = {
                "version": 1,
                "provider": {
                    "type": "keystone",
                    "auth_url": "${env:OS_AUTH_URL}",
                    "username": "${env:OS_USERNAME}",
                    "password": "${env:OS_PASSWORD}",
                    "project_name": "${env:OS_PROJECT_NAME}",
                },
                "secrets": {"type": "file", "path": ".keyform/secrets.json"},
                "safety": {"unmanaged": "ignore"},
                **state,
            }
            (work / "keyform.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
            env = {
                **os.environ,
                "OS_AUTH_URL": server.url,
                "OS_USERNAME": "admin",
                "OS_PASSWORD": server.admin_password,
                "OS_PROJECT_NAME": "admin",
            }
            keyform = [str(Path(sys.executable).parent / "keyform"), "-C", str(work), "plan", "--detailed-exitcode"]
            floor = [sys.executable, "-c", FLOOR, server.url, "admin", server.admin_password]
            floors, plans, floor_requests = [], [], ""
            for _ in range(RUNS):
                elapsed, floor_requests = timed(floor, env)
                floors.append(elapsed)
                elapsed, output = timed(keyform, env)
                plans.append(elapsed)
            assert "No changes" in output, output[-2000:]
            plan_requests = count_plan_requests(work, env)
            report = {
                "n": n,
                "floor_s": round(statistics.median(floors), 2),
                "plan_s": round(statistics.median(plans), 2),
                "ratio": round(statistics.median(plans) / statistics.median(floors), 2),
                "floor_requests": int(floor_requests),
                "plan_requests": plan_requests,
            }
            print(json.dumps(report))
        finally:
            server.stop()


def count_plan_requests(work: Path, env: dict[str, str]) -> int:
    """The requests one no-op plan sends (counted in this process, run once)."""
    code = (
        "import sys, requests\n"
        "count = [0]\n"
        "send = requests.Session.send\n"
        "def counted(self, *a, **k):\n"
        "    count[0] += 1\n"
        "    return send(self, *a, **k)\n"
        "requests.Session.send = counted\n"
        "from keyform.cli import main\n"
        "try:\n"
        f"    main(['-C', {str(work)!r}, 'plan'], standalone_mode=False)\n"
        "finally:\n"
        "    print('REQUESTS', count[0], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    line = next(line for line in done.stderr.splitlines() if line.startswith("REQUESTS"))
    return int(line.split()[1])


if __name__ == "__main__":
    main()
