"""A fleet: two keyform-server targets on two real servers and a Personio target, planned and
applied with --all, one review comment from their saved plans, and a failing target that leaves
the others applied."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyform.cli import main
from keyform.server import running_server

from .conftest import EXAMPLES, OWNER


@dataclass
class Fleet:
    """A repository with targets `teams/a`, `teams/b` (keyform servers) and `hr` (Personio)."""

    root: Path
    stack: ExitStack
    outputs: list[str] = field(default_factory=list)

    def keyform(self, *args: str) -> Result:
        result = CliRunner().invoke(main, ["-C", str(self.root), *args], catch_exceptions=False)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def secrets(self, target: str) -> dict:
        path = self.root / target / ".keyform" / "secrets.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def secret_values(self, target: str) -> list[str]:
        return [
            v for entry in self.secrets(target).values() for k, v in entry.items() if k in ("api_key", "client_secret")
        ]


def server_target(folder: Path, prefix: str) -> None:
    """The example desired state, against the server whose URL and token are in PREFIX_URL and PREFIX_TOKEN."""
    shutil.copytree(EXAMPLES / "access", folder / "access")
    text = (EXAMPLES / "keyform.yaml").read_text()
    text = text.replace("${env:KEYFORM_URL}", f"${{env:{prefix}_URL}}").replace(
        "${env:KEYFORM_TOKEN}", f"${{env:{prefix}_TOKEN}}"
    )
    (folder / "keyform.yaml").write_text(text.replace("timeout: 30", "timeout: 5"))


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    root = tmp_path / "repo"
    with ExitStack() as stack:
        for name, prefix in (("a", "TEAM_A"), ("b", "TEAM_B")):
            server = stack.enter_context(running_server(tmp_path / f"{name}.db", init_owner=OWNER))
            monkeypatch.setenv(f"{prefix}_URL", server.url)
            monkeypatch.setenv(f"{prefix}_TOKEN", server.owner_token)
            server_target(root / "teams" / name, prefix)
        shutil.copytree(EXAMPLES / "personio", root / "hr")
        (root / "node_modules" / "pkg").mkdir(parents=True)
        (root / "node_modules" / "pkg" / "keyform.yaml").write_text("not a target\n")
        yield Fleet(root, stack)


def test_targets_lists_every_folder_with_a_keyform_yaml_as_a_matrix(fleet: Fleet) -> None:
    result = fleet.keyform("targets", "--json")
    assert result.exit_code == 0, result.output
    matrix = json.loads(result.stdout)
    assert [(entry["target"], entry["provider"]) for entry in matrix["include"]] == [
        ("hr", "personio"),
        ("teams/a", "keyform"),
        ("teams/b", "keyform"),
    ]
    assert matrix["include"][1]["plan_file"] == "plan-teams--a.json"
    assert matrix["include"][1]["directory"] == f"{fleet.root.as_posix()}/teams/a"
    text = fleet.keyform("targets").stdout
    assert text.splitlines() == ["hr       personio", "teams/a  keyform", "teams/b  keyform"]


def test_a_fleet_file_names_the_targets_and_a_wrong_entry_is_one_clear_line(fleet: Fleet) -> None:
    (fleet.root / "keyform-fleet.yaml").write_text("targets:\n  - teams/b\n  - teams/a\n")
    assert [e["target"] for e in json.loads(fleet.keyform("targets", "--json").stdout)["include"]] == [
        "teams/b",
        "teams/a",
    ]
    (fleet.root / "keyform-fleet.yaml").write_text("targets:\n  - teams/a\n  - teams/c\n")
    result = fleet.keyform("targets")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {fleet.root / 'keyform-fleet.yaml'}: targets[1] 'teams/c' has no keyform.yaml: create it, or remove "
        "the entry\n"
    )


def test_plan_all_plans_every_target_and_their_plans_combine_into_one_comment(fleet: Fleet) -> None:
    plans = fleet.root.parent / "plans"
    result = fleet.keyform("plan", "--all", "--jobs", "2", "--detailed-exitcode", "--out", str(plans))
    assert result.exit_code == 2, result.output
    out = result.stdout
    for name, provider in (("hr", "personio"), ("teams/a", "keyform"), ("teams/b", "keyform")):
        heading = f"=== {name} ({provider}): changes ==="
        assert heading in out
        block = out.split(heading, 1)[1].split("===", 1)[0]  # the target's whole plan, not interleaved
        assert "to create" in block
    summary = out.split("Summary of 3 targets:\n", 1)[1]
    assert summary.splitlines() == ["  hr       changes", "  teams/a  changes", "  teams/b  changes"]
    assert sorted(path.name for path in plans.iterdir()) == ["plan-hr.json", "plan-teams--a.json", "plan-teams--b.json"]

    comment = fleet.keyform("plan", "--combine", *sorted(str(path) for path in plans.iterdir()))
    assert comment.exit_code == 0, comment.output
    text = comment.stdout
    assert text.startswith("### keyform plan for 3 targets (3 with changes)\n")
    table = text.split("\n\n", 2)[1].splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| `hr`", "| `teams/a`", "| `teams/b`"]
    for name in ("hr", "teams/a", "teams/b"):
        assert f"<details open><summary>{name}: Plan:" in text
    assert text.index("| `teams/b`") < text.index("<details")  # every summary before any review
    assert len(text) < 65_536


def test_apply_all_applies_each_target_with_its_own_sink_and_reports_the_one_that_needs_a_person(fleet: Fleet) -> None:
    result = fleet.keyform("apply", "--all", "--auto-approve")
    assert result.exit_code == 1, result.output
    summary = result.stdout.split("Summary of 3 targets:\n", 1)[1].splitlines()
    assert summary[0].startswith("  hr       failed (exit 1): Error: Personio")
    assert "needs a person" in summary[0]
    assert summary[1:] == ["  teams/a  ok", "  teams/b  ok"]
    a, b = fleet.secret_values("teams/a"), fleet.secret_values("teams/b")
    assert len(a) == len(b) == 7 and not set(a) & set(b)  # each server issued its own, into its own sink
    assert fleet.secrets("hr") == {}
    again = fleet.keyform("plan", "--all", "--detailed-exitcode", "--format", "markdown")  # options pass on
    assert "  teams/a  no changes" in again.stdout and "  teams/b  no changes" in again.stdout
    assert again.stdout.count("### keyform plan for `http://127.0.0.1:") == 2
    for value in [*a, *b]:
        for text in fleet.outputs:
            assert value not in text


def test_a_stopped_server_fails_its_target_only(fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fleet.root / "keyform-fleet.yaml").write_text("targets: [teams/a, teams/b]\n")
    fleet.stack.close()  # both servers stop; start A again on its database
    with running_server(tmp_path / "a.db") as server:
        monkeypatch.setenv("TEAM_A_URL", server.url)
        result = fleet.keyform("apply", "--all", "--auto-approve")
    assert result.exit_code == 1, result.output
    summary = result.stdout.split("Summary of 2 targets:\n", 1)[1].splitlines()
    assert summary[0] == "  teams/a  ok"
    assert summary[1].startswith("  teams/b  failed (exit 1): Error: ")
    assert "=== teams/b (keyform): failed (exit 1) ===" in result.stdout
    assert len(fleet.secret_values("teams/a")) == 7
    assert fleet.secrets("teams/b") == {}


def test_apply_all_asks_for_auto_approve_and_combine_needs_files(fleet: Fleet) -> None:
    result = fleet.keyform("apply", "--all")
    assert result.exit_code == 1
    assert "--all applies targets side by side and can't ask for each" in result.stderr
    result = fleet.keyform("plan", "--combine")
    assert result.exit_code == 1
    assert "--combine needs the saved plan files" in result.stderr
    assert fleet.secrets("teams/a") == {}


def test_fleet_options_that_make_no_sense_are_one_line_errors(fleet: Fleet) -> None:
    result = CliRunner().invoke(main, ["--config", "x.yaml", "plan", "--all"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --config names one target's file; with a fleet, pass -C ROOT")
    result = fleet.keyform("plan", "--all", "--jobs", "0")
    assert result.exit_code == 1
    assert "Invalid value for '--jobs': 0 is not in the range x>=1" in result.stderr
    result = fleet.keyform("plan", "plan-a.json")
    assert result.exit_code == 1
    assert "PLANFILE arguments need --combine" in result.stderr
