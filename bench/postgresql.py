"""The PostgreSQL case: a no-op `keyform plan` over 1,000 login roles, 100 group roles and about
10,000 grants against a real PostgreSQL, next to a bare floor that runs the same catalog queries
with psycopg.

    .venv/bin/pip install -q -e '.[test,postgresql]' && .venv/bin/python bench/postgresql.py [LOGINS]

It starts the test suite's private cluster (tests/pg.py: initdb + pg_ctl on a free loopback port),
seeds one database in one transaction of plain SQL (100 tables; 100 group roles with CONNECT,
USAGE and SELECT, INSERT, UPDATE, DELETE on 10 tables each; LOGINS login roles marked as keyform's,
each in one group with CONNECT, SELECT on 3 tables and 2 column grants), writes the matching desired state,
then interleaves floor and plan runs (RUNS each, as whole processes) and reports the median wall
time of each. The floor imports only psycopg, connects, and runs catalog.QUERIES in one
repeatable-read transaction, fetching every row: what a plan cannot do without. `keyform validate`
of the same desired state (load and check it, no connection) is timed alongside, to show where the
rest of a plan's time goes.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import compile_keyform, timed  # noqa: E402
from tests.pg import Cluster, find_bin_dir  # noqa: E402

from keyform.providers.postgresql.catalog import QUERIES  # noqa: E402

RUNS = 7
GROUPS = 100
TABLES = 100
FLOOR = r"""
import json, sys, psycopg
url, queries = sys.argv[1], json.loads(open(sys.argv[2]).read())
rows = 0
with psycopg.connect(url, autocommit=True) as conn, conn.transaction(), conn.cursor() as cursor:
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    for query in queries:
        rows += len(cursor.execute(query).fetchall())
print(rows)
"""


def seed_sql(logins: int) -> tuple[str, dict[str, Any], int]:
    """The seeding script, the matching desired state and the number of grants in it."""
    stamp = datetime.now(UTC).isoformat()
    script = [f"CREATE TABLE t{t:03d} (id int, name text, secret text);" for t in range(TABLES)]
    groups: dict[str, Any] = {}
    users: dict[str, Any] = {}
    grants = 0
    for g in range(GROUPS):
        name, tables = f"g{g:03d}", [f"public.t{(g + k) % TABLES:03d}" for k in range(10)]
        script.append(f"CREATE ROLE {name} NOLOGIN; COMMENT ON ROLE {name} IS 'managed by keyform';")
        script.append(f"GRANT CONNECT ON DATABASE bench TO {name}; GRANT USAGE ON SCHEMA public TO {name};")
        script.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(tables)} TO {name};")
        privileges = ["SELECT", "INSERT", "UPDATE", "DELETE"]
        groups[name] = {
            "grants": {
                "database": ["CONNECT"],
                "schemas": {"public": ["USAGE"]},
                "tables": {table: list(privileges) for table in tables},
            }
        }
        grants += 2 + 4 * len(tables)
    for u in range(logins):
        name, group = f"u{u:04d}", f"g{u % GROUPS:03d}"
        tables = [f"public.t{(u + k) % TABLES:03d}" for k in range(3)]
        column_table = f"public.t{(u + 50) % TABLES:03d}"
        comment = f"managed by keyform; password kf-bench-{u} set {stamp}"
        script.append(f"CREATE ROLE {name} LOGIN; COMMENT ON ROLE {name} IS '{comment}'; GRANT {group} TO {name};")
        script.append(f"GRANT CONNECT ON DATABASE bench TO {name}; GRANT SELECT ON {', '.join(tables)} TO {name};")
        script.append(f"GRANT SELECT (id, name) ON {column_table} TO {name};")
        users[name] = {
            "member_of": [group],
            "grants": {
                "database": ["CONNECT"],
                "tables": {table: ["SELECT"] for table in tables},
                "columns": {column_table: {"SELECT": ["id", "name"]}},
            },
        }
        grants += 1 + len(tables) + 2
    return "\n".join(script), {"group_roles": groups, "login_roles": users}, grants


def main() -> None:
    logins = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    compile_keyform()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql, or pip install pgserver")
    cluster = Cluster.start(bin_dir)
    try:
        with cluster.connect() as conn:
            conn.execute("CREATE DATABASE bench")
        script, state, grants = seed_sql(logins)
        started = time.perf_counter()
        with cluster.connect("bench") as conn, conn.transaction():
            conn.execute(script)
        print(
            f"seeded {logins} login roles, {GROUPS} group roles, {grants} grants in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            document = {
                "version": 1,
                "provider": {"type": "postgresql", "dsn": "${env:DATABASE_URL}"},
                "secrets": {"type": "file", "path": ".keyform/secrets.json"},
                "safety": {"unmanaged": "ignore"},
                **state,
            }
            (work / "keyform.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
            (work / "queries.json").write_text(json.dumps(list(QUERIES)))
            env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
            env["DATABASE_URL"] = cluster.url("bench")
            keyform = [str(Path(sys.executable).parent / "keyform"), "-C", str(work), "plan", "--detailed-exitcode"]
            floor = [sys.executable, "-c", FLOOR, cluster.url("bench"), str(work / "queries.json")]
            validate = [*keyform[:3], "validate"]  # the same process without the catalog read and diff
            floors, plans, validates, output, rows = [], [], [], "", ""
            for _ in range(RUNS):
                elapsed, rows = timed(floor, env)
                floors.append(elapsed)
                elapsed, output = timed(keyform, env)
                plans.append(elapsed)
                validates.append(timed(validate, env)[0])
            assert "No changes" in output, output[-2000:]
        report = {
            "logins": logins,
            "groups": GROUPS,
            "grants": grants,
            "catalog_rows": int(rows),
            "floor_s": round(statistics.median(floors), 3),
            "plan_s": round(statistics.median(plans), 3),
            "validate_s": round(statistics.median(validates), 3),
            "ratio": round(statistics.median(plans) / statistics.median(floors), 2),
            "load_average": [round(load, 2) for load in os.getloadavg()],
        }
        print(json.dumps(report))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
