"""SIGKILL an apply of 200 changes at seeded points; the next apply converges and loses no secret."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import requests
from click.testing import CliRunner

from keyform.cli import main
from tests.e2e.conftest import OWNER
from tests.e2e.faultproxy import FaultProxy

COUNT = 200
CONFIG = """version: 1
provider:
  type: keyform
  url: ${env:KEYFORM_URL}
  token: ${env:KEYFORM_TOKEN}
roles:
  reader:
    permissions: {employees: [read]}
    attributes: [first_name]
credentials:
"""


def begun(journal) -> int:
    try:
        return journal.read_text().count('"event": "begin"')
    except FileNotFoundError:
        return 0


def kill_after(process: subprocess.Popen, journal, changes: int, limit: float = 120.0) -> None:
    """SIGKILL the apply once its journal shows `changes` changes begun (bounded polling)."""
    deadline = time.monotonic() + limit
    while begun(journal) < changes and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_apply_killed_mid_way_converges_without_duplicates_or_lost_secrets(seed, tmp_path, monkeypatch):
    from keyform.server import running_server

    workdir = tmp_path / "org"
    workdir.mkdir()
    body = "".join(f"  c{i:03}:\n    roles: [reader]\n" for i in range(COUNT))
    (workdir / "keyform.yaml").write_text(CONFIG + body)
    journal = workdir / ".keyform" / "journal.jsonl"
    kill_at = random.Random(seed).randint(10, COUNT - 10)
    slow_posts = lambda method, path: "latency" if method == "POST" else None  # noqa: E731 - headroom for the kill
    with (
        running_server(tmp_path / "db.sqlite", init_owner=OWNER) as server,
        FaultProxy(server.url, slow_posts, latency=0.01) as proxy,
    ):
        env = {**os.environ, "KEYFORM_URL": proxy.url, "KEYFORM_TOKEN": server.owner_token}
        process = subprocess.Popen(
            [sys.executable, "-m", "keyform", "-C", str(workdir), "apply", "--auto-approve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kill_after(process, journal, kill_at)
        assert process.returncode == -signal.SIGKILL, "apply finished before the kill: the test proves nothing"
        monkeypatch.setenv("KEYFORM_URL", server.url)
        monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
        again = CliRunner().invoke(main, ["-C", str(workdir), "apply", "--auto-approve"], catch_exceptions=False)
        assert again.exit_code == 0, again.output
        plan = CliRunner().invoke(main, ["-C", str(workdir), "plan", "--detailed-exitcode"], catch_exceptions=False)
        assert plan.exit_code == 0, plan.output
        headers = {"Authorization": f"Bearer {server.owner_token}"}
        live = requests.get(f"{server.url}/v1/credentials?limit=1000", headers=headers, timeout=10).json()["items"]
        assert sorted(item["name"] for item in live) == [f"c{i:03}" for i in range(COUNT)]
        assert all(len(item["secrets"]) == 1 for item in live)
        sink = json.loads((workdir / ".keyform" / "secrets.json").read_text())
        assert sorted(sink) == [f"credentials/c{i:03}" for i in range(COUNT)]
        live_secret = {f"credentials/{item['name']}": item["secrets"][0]["id"] for item in live}
        assert {address: entry["secret_id"] for address, entry in sink.items()} == live_secret
        with requests.Session() as session:
            for address, entry in sink.items():
                token = session.post(
                    f"{server.url}/v1/oauth/token",
                    json={
                        "grant_type": "client_credentials",
                        "client_id": entry["client_id"],
                        "client_secret": entry["client_secret"],
                    },
                    timeout=10,
                )
                assert token.status_code == 200, address
        assert [p.name for p in (workdir / ".keyform").iterdir() if p.name.startswith(".secrets")] == []


# Runs `keyform` with the sink's fold replaced by a SIGKILL: the process dies after every delivery
# is fsynced to the pending log and before the log is folded into secrets.json.
KILLED_BEFORE_THE_FOLD = """
import os, signal, sys
from keyform.secrets.file_sink import FileSink
FileSink.close = lambda sink: os.kill(os.getpid(), signal.SIGKILL)
from keyform.cli import main
main(sys.argv[1:], prog_name="keyform")
"""
ROTATED = ["users/hanna.schmidt@acme.example", "users/tom.becker@acme.example"]


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["verify"]])
def test_a_fold_killed_at_the_end_of_apply_is_finished_by_the_next_command_that_opens_the_sink(command, org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    before = {address: org.secrets()[address]["api_key"] for address in ROTATED}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_THE_FOLD, "-C", str(org.workdir), "rotate", *ROTATED, "--auto-approve"],
        env={**os.environ, "KEYFORM_URL": org.url, "KEYFORM_TOKEN": org.token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    pending = org.workdir / ".keyform" / "secrets.json.pending"
    assert pending.exists(), "the kill came before the deliveries: the test proves nothing"
    assert {address: org.secrets()[address]["api_key"] for address in ROTATED} == before  # the revoked keys

    result = org.keyform(*command)

    assert result.exit_code == 0, result.output
    assert not pending.exists()
    with requests.Session() as session:
        for address in ROTATED:
            for key, works in ((org.secrets()[address]["api_key"], 200), (before[address], 401)):
                whoami = session.get(f"{org.url}/v1/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=10)
                assert whoami.status_code == works, address
