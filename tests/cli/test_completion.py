"""Shell completion of addresses, through the `keyform` command's completion protocol, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from keyform.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _complete(workdir: Path, words: str) -> list[str]:
    """What bash completion offers for the last word of `words` (no server, no environment)."""
    env = {
        "_KEYFORM_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        "KEYFORM_URL": None,
        "KEYFORM_TOKEN": None,
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="keyform")
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_target_completes_declared_addresses_offline(tmp_path):
    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    offered = _complete(workdir, f"keyform -C {workdir} plan --target credentials/")
    assert offered == [
        "credentials/bi-reporting",
        "credentials/legacy-export",
        "credentials/payroll-sync",
        "credentials/shift-planner",
    ]
    assert "roles/hr-reader" in _complete(workdir, f"keyform -C {workdir} apply --target ")


def test_rotate_and_replace_complete_only_addresses_with_a_secret(tmp_path):
    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    offered = _complete(workdir, f"keyform -C {workdir} rotate users/")
    assert offered == [
        "users/data.manager@acme.example",
        "users/hanna.schmidt@acme.example",
        "users/tom.becker@acme.example",
    ]
    assert _complete(workdir, f"keyform -C {workdir} plan --replace cred") == [
        "credentials/bi-reporting",
        "credentials/legacy-export",
        "credentials/payroll-sync",
        "credentials/shift-planner",
    ]


def test_no_desired_state_completes_nothing(tmp_path):
    assert _complete(tmp_path, f"keyform -C {tmp_path} plan --target ") == []
