"""SIGKILL of `keyform rotate` at each point of a password's way to PostgreSQL never leaves a role
whose live password is nowhere in the sink (the write-ahead), and the next apply converges."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import psycopg
import pytest

from tests.crashpoints import POINTS, killed_at
from tests.providers.postgresql.conftest import TIMEOUT, Project

KILLED_AT = killed_at("keyform.providers.postgresql", "PostgresqlProvider")


def sink_passwords(project: Project, address: str) -> list[str]:
    """Every password the sink holds for `address`: the confirmed one and any pending ones."""
    path = project.workdir / ".keyform" / "secrets.json"
    document = json.loads(path.read_text()) if path.exists() else {}
    pending = path.with_name("secrets.json.pending")
    for line in pending.read_text().splitlines() if pending.exists() else ():
        if line.endswith("}"):
            record = json.loads(line)
            document[record["address"]] = record["entry"]
    entry = document.get(address, {})
    return [part["password"] for part in (entry, *entry.get("pending", ())) if "password" in part]


def logs_in(project: Project, role: str, password: str) -> bool:
    try:
        psycopg.connect(
            host=project.cluster.host, port=project.cluster.port, dbname=project.database, user=role, password=password
        ).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.parametrize("point", POINTS)
def test_a_rotation_killed_at_each_point_keeps_the_live_password_in_the_sink(project: Project, point: str) -> None:
    project.keyform("apply", "--auto-approve")
    command = [sys.executable, "-c", KILLED_AT, point, "-C", str(project.workdir), "rotate", "login_roles/ana"]

    killed = subprocess.run(
        [*command, "--auto-approve"], env=project.env(), capture_output=True, text=True, timeout=TIMEOUT
    )

    assert killed.returncode == -signal.SIGKILL, f"{point}: {killed.stdout}{killed.stderr}"
    assert any(logs_in(project, "ana", password) for password in sink_passwords(project, "login_roles/ana"))
    project.keyform("apply", "--auto-approve")
    project.keyform("plan", "--detailed-exitcode", code=0)
    assert logs_in(project, "ana", project.sink()["login_roles/ana"]["password"])


def sink_logins(project: Project, address: str) -> list[tuple[str, str]]:
    """(user, password) of every part of the sink's entry: the current, the retiring and any pending one
    (a pending part has no user yet: it may be for either login)."""
    path = project.workdir / ".keyform" / "secrets.json"
    document = json.loads(path.read_text()) if path.exists() else {}
    pending = path.with_name("secrets.json.pending")
    for line in pending.read_text().splitlines() if pending.exists() else ():
        if line.endswith("}"):
            record = json.loads(line)
            document[record["address"]] = record["entry"]
    entry = document.get(address, {})
    parts = [entry, entry.get("retiring") or {}, *entry.get("pending", ())]
    return [(part.get("user", ""), part["password"]) for part in parts if "password" in part]


@pytest.mark.parametrize("point", POINTS)
def test_an_overlap_rotation_killed_at_each_point_leaves_no_login_whose_password_the_sink_lacks(
    project: Project, point: str
) -> None:
    project.edit(lambda d: d["login_roles"]["ana"].update({"password": {"rotation_overlap": "1h"}}))
    project.keyform("apply", "--auto-approve")
    command = [sys.executable, "-c", KILLED_AT, point, "-C", str(project.workdir), "rotate", "login_roles/ana"]

    killed = subprocess.run(
        [*command, "--auto-approve"], env=project.env(), capture_output=True, text=True, timeout=TIMEOUT
    )

    assert killed.returncode == -signal.SIGKILL, f"{point}: {killed.stdout}{killed.stderr}"
    live = project.sql(
        "SELECT rolname FROM pg_authid WHERE rolname IN ('ana_a', 'ana_b') AND rolpassword IS NOT NULL "
        "AND (rolvaliduntil IS NULL OR rolvaliduntil > now())"
    )
    assert live, f"{point}: no login of ana has a live password"
    held = sink_logins(project, "login_roles/ana")
    for (login,) in live:
        assert any(logs_in(project, login, password) for user, password in held if user in (login, "")), (
            f"{point}: {login} has a live password the sink does not hold"
        )
    project.keyform("apply", "--auto-approve")
    project.keyform("plan", "--detailed-exitcode", code=0)
    entry = project.sink()["login_roles/ana"]
    assert logs_in(project, entry["user"], entry["password"])
