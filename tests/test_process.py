"""keyform.process: the command freezes what it built and ends without tearing down the heap;
a library caller gets neither."""

import gc
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

from keyform import process
from tests.fakes import buffered_environment


@pytest.fixture
def collector_restored():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_bulk_work_pauses_the_collector_and_freezes_nothing_for_a_library_caller(collector_restored):
    gc.enable()
    frozen = gc.get_freeze_count()
    with process.bulk_work():
        assert not gc.isenabled()
        with process.bulk_work():  # nested: still paused after the inner one ends
            pass
        assert not gc.isenabled()
        built = [{"n": n} for n in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    assert built


def test_bulk_work_in_the_command_freezes_what_was_built(collector_restored, monkeypatch):
    monkeypatch.setattr(process, "_command", True)
    gc.unfreeze()
    gc.enable()
    with process.bulk_work():
        built = [{"n": n} for n in range(1000)]
    assert gc.isenabled()
    tracked = {id(o) for o in gc.get_objects()}  # frozen objects are not listed
    assert id(built) not in tracked and id(built[0]) not in tracked
    after = [["later"]]
    assert id(after) in {id(o) for o in gc.get_objects()}  # what comes later is collected as usual


def run_command_script(
    body: str, *, through_run_command: bool = True, stdout: object = subprocess.PIPE
) -> subprocess.CompletedProcess:
    """Run `body` (defining `main`) in a new interpreter, as the command through run_command or directly."""
    script = (
        textwrap.dedent(
            """
        import atexit, os, sys
        from keyform.process import run_command

        class Noisy:
            def __del__(self):
                os.write(1, b"torn down\\n")

        kept = Noisy()
        """
        )
        + textwrap.dedent(body)
        + ("\nrun_command(main)\n" if through_run_command else "\nmain()\n")
    )
    env = buffered_environment()
    return subprocess.run(
        [sys.executable, "-c", script],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_ends_with_its_status_after_every_exit_handler_and_without_tearing_down():
    result = run_command_script(
        """
        def main():
            atexit.register(lambda: os.write(1, b"handler ran\\n"))
            sys.stdout.write("buffered, never flushed by main\\n")
            sys.exit(3)
        """
    )
    assert result.returncode == 3
    assert sorted(result.stdout.splitlines()) == ["buffered, never flushed by main", "handler ran"]
    assert "torn down" not in result.stdout  # the heap was left to the OS


@pytest.mark.parametrize(("exit_with", "status"), [("None", 0), ("0", 0), ("2", 2), ("'a message'", 1)])
def test_the_command_keeps_the_exit_status_click_or_sys_exit_gives(exit_with, status):
    result = run_command_script(f"def main():\n    sys.exit({exit_with})\n")
    assert result.returncode == status
    assert ("a message" in result.stderr) == (exit_with == "'a message'")
    assert "torn down" not in result.stdout


def test_a_crash_is_one_line_and_exit_1_like_any_error():
    result = run_command_script("def main():\n    raise RuntimeError('a bug')\n")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: keyform failed unexpectedly (RuntimeError: a bug). This is a bug")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_python_dash_m_keyform_and_the_console_script_run_through_run_command():
    result = run_command_script(
        """
        def main():
            import runpy
            sys.argv = ["keyform", "--version"]
            runpy.run_module("keyform", run_name="__main__")
        """,
        through_run_command=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("keyform, version")
    assert "torn down" not in result.stdout
    (script,) = entry_points(group="console_scripts", name="keyform")
    assert script.value == "keyform.__main__:run"


def test_keep_until_exit_holds_objects_only_in_the_command(monkeypatch):
    class Probe:
        pass

    monkeypatch.setattr(process, "_kept", [])
    library_object = Probe()
    process.keep_until_exit(library_object)
    assert process._kept == []
    monkeypatch.setattr(process, "_command", True)
    command_object = Probe()
    process.keep_until_exit(command_object)
    assert process._kept == [command_object]


def test_standard_streams_are_flushed_as_the_interpreter_would():
    closed = run_command_script("def main():\n    sys.stdout.close()\n    sys.exit(0)\n")
    assert closed.returncode == 0  # a closed stream is skipped
    with open("/dev/full", "w") as full:  # every write fails: no space left
        unflushable = run_command_script(
            "def main():\n    sys.stdout.write('never written')\n    sys.exit(0)\n", stdout=full
        )
    assert unflushable.returncode == 120
