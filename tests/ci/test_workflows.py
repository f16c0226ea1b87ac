"""The CI examples: valid against their published schemas (vendored, offline) and doing what matters."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
GITHUB = CI / "github-actions"
PLAN, APPLY, DRIFT = (GITHUB / f"keyform-{name}.yml" for name in ("plan", "apply", "drift"))
GITLAB = CI / "gitlab-ci.yml"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))  # YAML 1.2: `on` stays a string


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if exe is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    env = {**os.environ, **OFFLINE}  # the vendored schemas need no network; prove it
    return subprocess.run(
        [exe, "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False, env=env
    )


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(workflow: dict) -> list[str]:
    return [step["run"] for step in steps(workflow) if "run" in step]


def keyform_calls(scripts: list[str], command: str) -> list[str]:
    pattern = re.compile(rf"^\s*keyform(?: -C \"\$KEYFORM_DIR\")? {command}\b[^\n]*", re.MULTILINE)
    return [
        " ".join(match.group(0).split())
        for script in scripts
        for match in pattern.finditer(script.replace("\\\n", " "))
    ]


def gitlab_jobs() -> dict:
    return {name: job for name, job in load(GITLAB).items() if isinstance(job, dict) and "script" in job}


def gitlab_scripts(job: dict) -> list[str]:
    return [*load(GITLAB)[".keyform"]["before_script"], *job["script"]]


# --- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PLAN, APPLY, DRIFT], ids=lambda path: path.name)
def test_github_workflows_match_the_published_schema(path):
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_pipeline_matches_the_published_schema():
    result = check_jsonschema("vendor.gitlab-ci", GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_key_fails_the_validators(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(PLAN.read_text(encoding="utf-8").replace("runs-on:", "run-on:"), encoding="utf-8")
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode == 1
    assert "'runs-on' is a required property" in result.stdout
    broken.write_text(
        GITLAB.read_text(encoding="utf-8").replace("resource_group:", "resource-group:"), encoding="utf-8"
    )
    result = check_jsonschema("vendor.gitlab-ci", broken)
    assert result.returncode == 1
    assert "'resource-group' was unexpected" in result.stdout


# --- GitHub Actions ----------------------------------------------------------------------------


def test_the_plan_workflow_validates_plans_to_files_and_comments_once():
    workflow = load(PLAN)
    assert set(workflow["on"]) == {"pull_request"}
    assert keyform_calls(runs(workflow), "validate")
    [plan] = keyform_calls(runs(workflow), "plan")
    assert re.search(r'--format markdown --out "?\S+/plan\.json"? > "?\S+/plan\.md"?$', plan), plan
    upload = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "keyform-plan"
    assert [Path(path).name for path in upload["with"]["path"].splitlines()] == ["plan.json", "desired-state.tree"]
    comment = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/github-script@"))
    script = comment["with"]["script"]
    assert "<!-- keyform-plan -->" in script
    assert "updateComment" in script and "createComment" in script
    assert workflow["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_the_apply_workflow_applies_the_reviewed_plan_one_at_a_time():
    workflow = load(APPLY)
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert workflow["concurrency"] == {"group": "keyform-apply", "cancel-in-progress": False}
    applies = keyform_calls(runs(workflow), "apply")
    assert any(call.endswith('"$RUNNER_TEMP/reviewed/plan.json"') for call in applies), applies
    assert any("--auto-approve" in call for call in applies)
    permissions = workflow["jobs"]["apply"]["permissions"]
    assert permissions == {"contents": "read", "actions": "read", "pull-requests": "read"}


FAKE_GH = """#!/bin/sh
case "$1 $2" in
  "api "*) if [ -n "$FAKE_PR" ]; then echo "$FAKE_PR"; fi ;;
  "run list") echo 4242 ;;
  "run download")
    while [ "$1" != "--dir" ]; do shift; done
    mkdir -p "$2" && echo "$FAKE_TREE" > "$2/desired-state.tree" && echo "{}" > "$2/plan.json" ;;
esac
"""


@pytest.mark.parametrize(
    ("pr", "same_tree", "found"),
    [("7 abc123", True, "true"), ("7 abc123", False, "false"), ("", True, "false")],
    ids=["reviewed", "main-moved-on", "direct-push"],
)
def test_the_apply_workflow_uses_the_reviewed_plan_only_for_the_planned_desired_state(tmp_path, pr, same_tree, found):
    repo = tmp_path / "repo"
    (repo / "keyform").mkdir(parents=True)
    (repo / "keyform" / "keyform.yaml").write_text("version: 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x.example"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "desired state"], check=True)
    tree = subprocess.run([*git, "rev-parse", "HEAD:./keyform"], check=True, capture_output=True, text=True).stdout
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    output = tmp_path / "output"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_PR": pr,
        "FAKE_TREE": tree.strip() if same_tree else "0" * 40,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_REPOSITORY": "acme/access",
        "GITHUB_SHA": "def456",
        "RUNNER_TEMP": str(tmp_path),
        "KEYFORM_DIR": "keyform",
    }
    finder = next(step for step in steps(load(APPLY)) if step.get("id") == "reviewed")["run"]
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", finder],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.read_text() == f"found={found}\n"
    assert (tmp_path / "reviewed" / "plan.json").exists() == bool(pr)


def test_the_drift_workflow_uses_the_detailed_exit_code():
    workflow = load(DRIFT)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    [call] = keyform_calls(runs(workflow), "plan")
    assert "--detailed-exitcode" in call
    assert workflow["jobs"]["drift"]["permissions"] == {"contents": "read"}


@pytest.fixture
def fake_keyform(tmp_path: Path) -> Path:
    """A `keyform` that prints a plan and exits with $FAKE_EXIT."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "keyform"
    exe.write_text('#!/bin/sh\necho "+ users/new@x.example"\necho "args: $*" >&2\nexit "$FAKE_EXIT"\n')
    exe.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("code", "job_exit", "summary"), [(0, 0, "no drift"), (2, 2, "drift on"), (1, 1, "")])
def test_the_drift_step_turns_exit_codes_into_a_readable_result(fake_keyform, tmp_path, code, job_exit, summary):
    [script] = [run for run in runs(load(DRIFT)) if "--detailed-exitcode" in run]
    summary_file = tmp_path / "summary.md"
    env = {
        "PATH": f"{fake_keyform}{os.pathsep}{os.environ['PATH']}",
        "FAKE_EXIT": str(code),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary_file),
        "GITHUB_REF_NAME": "main",
        "KEYFORM_DIR": ".",
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == job_exit, result.stdout + result.stderr
    written = summary_file.read_text() if summary_file.exists() else ""
    assert summary in written
    assert ("+ users/new@x.example" in written) == (code == 2)  # the plan is in the summary on drift
    assert ("::error" in result.stdout) == (code != 0)


@pytest.mark.parametrize("path", [PLAN, APPLY, DRIFT], ids=lambda path: path.name)
def test_workflows_keep_the_token_out_of_scripts_and_pin_actions(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "grant permissions per job"
    for job in workflow["jobs"].values():
        assert "permissions" in job
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        script = step.get("run", "") + step.get("with", {}).get("script", "")
        assert "KEYFORM_TOKEN" not in script, f"a script mentions KEYFORM_TOKEN: {step}"
        assert "${{" not in step.get("run", ""), "pass expressions through env:, not into scripts"
        env = step.get("env", {})
        if "KEYFORM_TOKEN" in env:
            assert env["KEYFORM_TOKEN"] == "${{ secrets.KEYFORM_TOKEN }}"
            assert keyform_calls([step["run"]], "(plan|apply)"), "only keyform itself gets the token"
    assert "secrets.KEYFORM_TOKEN" not in str({k: v for k, v in workflow.items() if k != "jobs"})


@pytest.mark.parametrize("path", [PLAN, APPLY, DRIFT], ids=lambda path: path.name)
def test_workflow_scripts_are_valid_bash(path):
    for script in runs(load(path)):
        result = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


# --- GitLab CI ---------------------------------------------------------------------------------


def test_the_gitlab_pipeline_validates_plans_applies_and_checks_drift():
    jobs = gitlab_jobs()
    assert set(jobs) == {"keyform-validate", "keyform-plan", "keyform-apply", "keyform-drift"}
    assert keyform_calls(jobs["keyform-validate"]["script"], "validate")
    [plan] = keyform_calls(jobs["keyform-plan"]["script"], "plan")
    assert plan.endswith("--format markdown --out plan.json > plan.md")
    assert "plan.json" in jobs["keyform-plan"]["artifacts"]["paths"]
    assert jobs["keyform-plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert keyform_calls(jobs["keyform-apply"]["script"], "apply")
    assert jobs["keyform-apply"]["resource_group"] == "keyform-apply"
    assert jobs["keyform-apply"]["interruptible"] is False
    assert "schedule" not in str(jobs["keyform-apply"]["rules"]) and "push" in str(jobs["keyform-apply"]["rules"])
    [drift] = keyform_calls(jobs["keyform-drift"]["script"], "plan")
    assert "--detailed-exitcode" in drift
    assert jobs["keyform-drift"]["allow_failure"] == {"exit_codes": [2]}
    assert jobs["keyform-drift"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_gitlab_drift_job_exits_with_keyforms_code(fake_keyform, tmp_path, code):
    script = "\n".join(gitlab_jobs()["keyform-drift"]["script"])
    env = {"PATH": f"{fake_keyform}{os.pathsep}{os.environ['PATH']}", "FAKE_EXIT": str(code), "KEYFORM_DIR": "."}
    result = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == code
    assert ("+ users/new@x.example" in result.stdout) == (code == 2)


def test_the_gitlab_scripts_are_valid_and_never_mention_the_token():
    for name, job in gitlab_jobs().items():
        for script in gitlab_scripts(job):
            assert "KEYFORM_TOKEN" not in script, name
            result = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stderr}"
    note = next(s for s in gitlab_jobs()["keyform-plan"]["script"] if "python3 - <<'PY'" in s)
    compile(note.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0], "note.py", "exec")


# --- pre-commit --------------------------------------------------------------------------------


def test_the_pre_commit_hooks_run_keyform_once_per_commit():
    hooks = {hook["id"]: hook for hook in load(ROOT / ".pre-commit-hooks.yaml")}
    assert set(hooks) == {"keyform-validate", "keyform-fmt"}
    assert hooks["keyform-validate"]["entry"].startswith("keyform validate")
    assert hooks["keyform-fmt"]["entry"] == "keyform fmt --check"
    for hook in hooks.values():
        assert (hook["language"], hook["pass_filenames"]) == ("python", False)
        assert re.search(hook["files"], "access/people.yaml") and re.search(hook["files"], "keyform.yml")
        assert not re.search(hook["files"], "README.md")
