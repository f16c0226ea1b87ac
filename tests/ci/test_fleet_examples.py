"""The fleet CI examples: the GitHub Actions matrix workflow and the Kubernetes drift CronJob, each
valid against its published schema (offline), and the workflow's steps run for real against a
fleet of targets on two keyform servers: one job per target, one combined comment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import kubernetes_validate
import pytest

from keyform.server import running_server

from .test_workflows import CI, GITHUB, check_jsonschema, load, runs, steps

FLEET = GITHUB / "keyform-fleet.yml"
CRONJOB = CI / "kubernetes" / "keyform-drift-cronjob.yaml"
EXAMPLES = CI.parent
OWNER = "owner@acme.example"  # the example's account owner
TIMEOUT = 120  # seconds a step may take before the test gives up on a hang
KUBERNETES = ("1.31.0", "1.37.0")  # the oldest with every field it uses as stable (podFailurePolicy), the newest


def test_the_fleet_workflow_matches_the_published_schema():
    result = check_jsonschema("vendor.github-workflows", FLEET)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES)
def test_the_drift_cronjob_matches_the_published_kubernetes_schema(version):
    # kubernetes-validate ships the schemas generated from Kubernetes' OpenAPI document per release;
    # strict: an unknown key is an error, as `kubectl apply --validate=strict` makes it
    kubernetes_validate.validate(load(CRONJOB), version, strict=True)
    broken = load(CRONJOB)
    broken["spec"]["concurrencypolicy"] = broken["spec"].pop("concurrencyPolicy")
    with pytest.raises(kubernetes_validate.ValidationError, match="'concurrencypolicy' was unexpected"):
        kubernetes_validate.validate(broken, version, strict=True)


def test_the_drift_cronjob_fails_on_drift_without_retrying_and_never_overlaps():
    cronjob = load(CRONJOB)
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    [rule] = job["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [1, 2]
    [container] = job["template"]["spec"]["containers"]
    assert rule["onExitCodes"]["containerName"] == container["name"]
    assert "plan --all --detailed-exitcode" in container["args"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "keyform-drift"}}]
    assert job["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_workflow_fans_out_one_job_per_target_with_only_its_own_secrets():
    workflow = load(FLEET)
    assert set(workflow["on"]) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {}
    matrix = "${{ fromJSON(needs.targets.outputs.matrix) }}"
    for name in ("plan", "apply", "drift"):
        job = workflow["jobs"][name]
        assert job["strategy"] == {"fail-fast": False, "matrix": matrix}
        assert job["environment"].startswith("keyform-${{ matrix.slug }}")
    assert workflow["jobs"]["apply"]["concurrency"] == {
        "group": "keyform-apply-${{ matrix.slug }}",
        "cancel-in-progress": False,
    }
    assert workflow["jobs"]["comment"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    for step in steps(workflow):
        assert "${{" not in step.get("run", ""), "pass expressions through env:, not into scripts"
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        if "KEYFORM_TOKEN" in step.get("env", {}):
            assert step["env"]["KEYFORM_TOKEN"] == "${{ secrets.KEYFORM_TOKEN }}"  # the environment's own
    for script in runs(workflow):
        assert "KEYFORM_TOKEN" not in script
        result = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


# --- the workflow's steps, run ---------------------------------------------------------------------


def step(job: str, name: str) -> dict:
    return next(item for item in load(FLEET)["jobs"][job]["steps"] if item.get("name") == name)


def run_step(job: str, name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """A step's `run:` as GitHub runs it (bash -e -o pipefail), with keyform from this checkout."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step(job, name)["run"]],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def matrix_values(entry: dict, job: str, name: str) -> dict[str, str]:
    """The step's env: with ${{ matrix.X }} filled in from the matrix entry."""
    values = {}
    for key, value in step(job, name).get("env", {}).items():
        found = re.fullmatch(r"\$\{\{ matrix\.(\w+) \}\}", value)
        if found:
            values[key] = str(entry[found.group(1)])
    return values


def test_the_workflow_plans_each_target_in_its_own_job_combines_one_comment_and_applies(tmp_path):
    repo = tmp_path / "repo"
    for name in ("payments", "search"):  # each as examples/ci/README.md says: ${env:KEYFORM_URL}, _TOKEN
        shutil.copytree(EXAMPLES / "access", repo / "teams" / name / "access")
        shutil.copy(EXAMPLES / "keyform.yaml", repo / "teams" / name / "keyform.yaml")
    shutil.copytree(EXAMPLES / "personio", repo / "hr")
    targets = run_step("targets", "List the targets", {"GITHUB_OUTPUT": str(tmp_path / "targets.out")}, repo)
    assert targets.returncode == 0, targets.stderr
    output = (tmp_path / "targets.out").read_text()
    matrix = json.loads(output.removeprefix("matrix="))
    assert [entry["target"] for entry in matrix["include"]] == ["hr", "teams/payments", "teams/search"]
    used = set(re.findall(r"matrix\.(\w+)", FLEET.read_text()))
    assert used <= set(matrix["include"][0]), "the workflow uses a matrix key `keyform targets --json` lacks"

    with ExitStack() as stack:
        servers = {
            f"teams/{name}": stack.enter_context(running_server(tmp_path / f"{name}.db", init_owner=OWNER))
            for name in ("payments", "search")
        }
        environments = {  # each job gets only its own target's environment
            target: {"KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.owner_token}
            for target, server in servers.items()
        }
        environments["hr"] = {"KEYFORM_URL": "", "KEYFORM_TOKEN": ""}
        artifacts = tmp_path / "artifacts"
        for entry in matrix["include"]:  # the plan job, once per target, each with its own runner temp
            runner = tmp_path / "runner" / entry["slug"]
            runner.mkdir(parents=True)
            env = {
                **matrix_values(entry, "plan", "Plan"),
                **environments[entry["target"]],
                "RUNNER_TEMP": str(runner),
            }
            planned = run_step("plan", "Plan", env, repo)
            assert planned.returncode == 0, planned.stdout + planned.stderr
            artifacts.mkdir(exist_ok=True)  # download-artifact, merge-multiple: every plan file in one folder
            shutil.copy(runner / "plans" / entry["plan_file"], artifacts)
        workspace = tmp_path / "comment"
        (workspace / "plans").mkdir(parents=True)
        for path in artifacts.iterdir():
            shutil.copy(path, workspace / "plans")
        (workspace / "plans" / "plan-teams--search.json").unlink()  # as if its plan job had failed
        env = {"MATRIX": output.removeprefix("matrix=").strip(), "RUN_URL": "https://ci.example/run/1"}
        combined = run_step("comment", "Combine the plans", env, workspace)
        assert combined.returncode == 0, combined.stderr
        comment = (workspace / "comment.md").read_text()
        assert comment.startswith("### keyform plan for 2 targets (2 with changes)\n")
        assert "| `hr` |" in comment and "| `teams/payments` |" in comment
        assert "<details open><summary>teams/payments: Plan: " in comment
        assert "**teams/search: the plan failed** (see the [run log](https://ci.example/run/1))." in comment

        for entry in matrix["include"]:  # the apply job, once per target (the step skips personio)
            if entry["provider"] == "personio":
                continue
            env = {**matrix_values(entry, "apply", "Apply"), **environments[entry["target"]]}
            applied = run_step("apply", "Apply", env, repo)
            assert applied.returncode == 0, applied.stdout + applied.stderr
        for entry in matrix["include"][1:]:  # drift: none left after apply
            env = {
                **matrix_values(entry, "drift", "Check for drift"),
                **environments[entry["target"]],
                "RUNNER_TEMP": str(tmp_path),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            }
            drift = run_step("drift", "Check for drift", env, repo)
            assert drift.returncode == 0, drift.stdout + drift.stderr
    assert (tmp_path / "summary.md").read_text().splitlines() == [
        "keyform: no drift in teams/payments",
        "keyform: no drift in teams/search",
    ]
    payments_keys = json.loads((repo / "teams" / "payments" / ".keyform" / "secrets.json").read_text())
    search_keys = json.loads((repo / "teams" / "search" / ".keyform" / "secrets.json").read_text())
    assert len(payments_keys) == len(search_keys) == 7 and payments_keys != search_keys
