"""SIGTERM stops apply cleanly after the changes in flight; a second concurrent apply is refused by name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from keyform.cli import main
from tests.e2e.conftest import OWNER
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.test_crash import CONFIG, begun, kill_after

COUNT = 60


@pytest.fixture
def slow_org(tmp_path, monkeypatch):
    """The real server behind a proxy that slows every POST, and a desired state of 60 credentials."""
    from keyform.server import running_server

    workdir = tmp_path / "org"
    workdir.mkdir()
    (workdir / "keyform.yaml").write_text(CONFIG + "".join(f"  c{i:03}:\n    roles: [reader]\n" for i in range(COUNT)))
    slow = lambda method, path: "latency" if method == "POST" and "locks" not in path else None  # noqa: E731
    with (
        running_server(tmp_path / "db.sqlite", init_owner=OWNER) as server,
        FaultProxy(server.url, slow, latency=0.05) as proxy,
    ):
        env = {**os.environ, "KEYFORM_URL": proxy.url, "KEYFORM_TOKEN": server.owner_token}
        monkeypatch.setenv("KEYFORM_URL", server.url)
        monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
        yield workdir, env


def start_apply(workdir, env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "keyform", "-C", str(workdir), "apply", "--auto-approve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_finishes_changes_in_flight_delivers_their_secrets_and_reports(slow_org):
    workdir, env = slow_org
    process = start_apply(workdir, env)
    journal = workdir / ".keyform" / "journal.jsonl"
    while begun(journal) < 10 and process.poll() is None:
        pass
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stdout + stderr
    assert "SIGTERM: finishing the changes in flight, then stopping." in stderr
    skipped = [line for line in stdout.splitlines() if "not started: apply was stopped by SIGTERM" in line]
    assert len(skipped) == 1 and skipped[0].startswith("  skipped: ")  # one summary line, not one per change
    assert stdout.rstrip().endswith("Apply stopped: apply was stopped by SIGTERM. Run `keyform apply` again to finish.")
    assert "Fix the failures" not in stdout
    applied = []
    applied = [
        line.split("create ")[1].split()[0] for line in stdout.splitlines() if line.strip().startswith("applied")
    ]
    sink = json.loads((workdir / ".keyform" / "secrets.json").read_text())
    assert 0 < len(applied) < COUNT + 1
    assert sorted(a for a in applied if a.startswith("credentials/")) == sorted(sink)  # every applied secret delivered
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    begins = {r["seq"] for r in records if r["event"] == "begin"}
    assert begins == {r["seq"] for r in records if r["event"] == "end"}  # nothing left in flight
    again = CliRunner().invoke(main, ["-C", str(workdir), "apply", "--auto-approve"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert len(json.loads((workdir / ".keyform" / "secrets.json").read_text())) == COUNT


def test_second_concurrent_apply_is_refused_naming_the_holder(slow_org):
    workdir, env = slow_org
    first = start_apply(workdir, env)
    journal = workdir / ".keyform" / "journal.jsonl"
    while begun(journal) < 3 and first.poll() is None:
        pass
    second = CliRunner().invoke(main, ["-C", str(workdir), "apply", "--auto-approve"], catch_exceptions=False)
    assert second.exit_code == 1
    assert "Error: another apply holds the organisation's lock: " in second.stderr
    assert f"pid {first.pid}" in second.stderr and "keyform force-unlock lck_" in second.stderr
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stdout + stderr


def test_lock_of_a_killed_apply_on_this_host_is_taken_over(slow_org):
    workdir, env = slow_org
    first = start_apply(workdir, env)
    kill_after(first, workdir / ".keyform" / "journal.jsonl", 5)
    first.stdout.close()
    first.stderr.close()
    again = CliRunner().invoke(main, ["-C", str(workdir), "apply", "--auto-approve"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "taking over the lock of a crashed apply" in again.stderr and f"pid {first.pid}" in again.stderr
