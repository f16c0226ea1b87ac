"""keyform.process: the command's exit status, and one redacted line for a bug, never a traceback."""

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

from tests.fakes import buffered_environment


def run_command_script(body: str) -> subprocess.CompletedProcess:
    """Run `body` (defining `main`) in a new interpreter as the keyform command does."""
    script = "import sys\nfrom keyform.process import run_command\n" + textwrap.dedent(body) + "\nrun_command(main)\n"
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        env=buffered_environment(),
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("exit_with", "status"), [("None", 0), ("0", 0), ("2", 2), ("'a message'", 1)])
def test_the_command_keeps_the_exit_status_click_or_sys_exit_gives(exit_with, status):
    result = run_command_script(f"def main():\n    sys.stdout.write('written\\n')\n    sys.exit({exit_with})\n")
    assert result.returncode == status
    assert result.stdout == "written\n"
    assert ("a message" in result.stderr) == (exit_with == "'a message'")


def test_a_crash_is_one_line_and_exit_1_like_any_error():
    result = run_command_script("def main():\n    raise RuntimeError('a bug')\n")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: keyform failed unexpectedly (RuntimeError: a bug). This is a bug")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_python_dash_m_keyform_and_the_console_script_run_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "keyform", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("keyform, version")
    (script,) = entry_points(group="console_scripts", name="keyform")
    assert script.value == "keyform.__main__:run"


def test_a_full_stdout_is_an_error_not_a_silent_success():
    with open("/dev/full", "w") as full:  # every write fails: no space left
        result = subprocess.run(
            [sys.executable, "-m", "keyform", "--help"], stdout=full, stderr=subprocess.PIPE, timeout=60, check=False
        )
    assert result.returncode != 0
