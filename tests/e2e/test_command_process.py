"""The real `keyform` process (python -m keyform: run_command's quick exit) against the real server:
the same output and exit codes as the in-process CLI, and an apply whose secrets all reach the sink."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.conftest import EXAMPLE_SECRETS
from tests.fakes import buffered_environment


def run_keyform(org, *args: str) -> subprocess.CompletedProcess:
    env = buffered_environment()
    result = subprocess.run(
        [sys.executable, "-m", "keyform", "-C", str(org.workdir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    org.outputs.append(result.stdout + result.stderr)
    return result


def test_plan_and_apply_as_a_process_match_the_cli_and_deliver_every_secret(org):
    in_process = org.keyform("plan", "--format", "json", "--detailed-exitcode")
    process = run_keyform(org, "plan", "--format", "json", "--detailed-exitcode")
    assert (process.returncode, in_process.exit_code) == (2, 2), process.stderr
    plan, expected = json.loads(process.stdout), json.loads(in_process.stdout)
    assert [c["address"] for c in plan["changes"]] == [c["address"] for c in expected["changes"]]
    applied = run_keyform(org, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete:" in applied.stdout and "0 failed" in applied.stdout
    assert sorted(org.secrets()) == EXAMPLE_SECRETS  # every new secret reached the sink before the quick exit
    journal = (org.workdir / ".keyform" / "journal.jsonl").read_text().splitlines()
    assert journal and all(json.loads(line) for line in journal)
    again = run_keyform(org, "plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    broken = run_keyform(org, "--config", "missing.yaml", "plan")
    assert broken.returncode == 1
    assert broken.stderr.startswith("Error: ")
    assert broken.stderr.strip().endswith("missing.yaml: cannot read: no such file")
    assert "Traceback" not in broken.stderr
    org.assert_no_secret_leaked()
