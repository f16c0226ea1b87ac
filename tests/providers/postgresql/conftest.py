"""A project folder with the PostgreSQL example against a fresh database of the private cluster
(tests/pg.py), the real `keyform` command, and every output it produced (for leak scans)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.pg import Cluster

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "postgresql" / "keyform.yaml"
TIMEOUT = 120  # seconds one command may take before the test gives up (a hang, not a slow run)
APP_TABLES = (EXAMPLE.parent / "app.sql").read_text()  # what the README tells a new user to run


@dataclass
class Project:
    """A fresh database with the app's tables, a copy of the example, and the outputs of every command."""

    cluster: Cluster
    database: str
    workdir: Path
    outputs: list[str] = field(default_factory=list)
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.cluster.url(self.database)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
        return {**base, "DATABASE_URL": self.url, **self.env_extra}

    def keyform(self, *args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "keyform", "-v", "-C", str(self.workdir), *args]
        done = subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=TIMEOUT)
        self.outputs.append(done.stdout + done.stderr)
        if code is not None:
            assert done.returncode == code, f"keyform {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def sink(self) -> dict[str, Any]:
        path = self.workdir / ".keyform" / "secrets.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.cluster.connect(self.database) as conn:
            cursor = conn.execute(statement, args or None)
            return cursor.fetchall() if cursor.description else []

    def login(self, role: str, password: str | None = None) -> Any:
        import psycopg

        entry = self.sink()[f"login_roles/{role}"]
        return psycopg.connect(
            host=entry["host"],
            port=entry["port"],
            dbname=entry["dbname"],
            user=entry["user"],
            password=password or entry["password"],
            autocommit=True,
        )

    def edit(self, change: Any) -> None:
        """Apply `change(document)` to keyform.yaml."""
        import yaml

        path = self.workdir / "keyform.yaml"
        document = yaml.safe_load(path.read_text())
        change(document)
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def drop_test_roles(cluster: Cluster, database: str) -> None:
    """Roles are cluster-wide: drop every role a test made (after its objects) so the next test starts clean."""
    with cluster.connect(database) as conn:
        roles = [
            name for (name,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND NOT rolsuper")
        ]
        for role in roles:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            conn.execute(f'DROP OWNED BY "{role}"')
    cluster.drop_database(database)
    with cluster.connect() as conn:
        for role in roles:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def project(pg_cluster: Cluster, tmp_path: Path) -> Iterator[Project]:
    url = pg_cluster.create_database()
    database = url.rsplit("/", 1)[-1]
    with pg_cluster.connect(database) as conn:
        conn.execute(APP_TABLES)
    workdir = tmp_path / "project"
    workdir.mkdir()
    shutil.copy(EXAMPLE, workdir / "keyform.yaml")
    try:
        yield Project(pg_cluster, database, workdir)
    finally:
        drop_test_roles(pg_cluster, database)
