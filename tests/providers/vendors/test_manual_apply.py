"""keyform apply for a provider without a management API: the walk-through on a real terminal
(a pseudo-terminal running the real `keyform` command), and the one-line refusal without one."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.providers.vendors.helpers import project, run

YAML = """\
version: 1
provider:
  type: personio
  api_url: https://personio.test
credentials:
  payroll:
    integration: DATEV
    permissions:
      employees: [read]
    attributes: [first_name, last_name]
"""
TIMEOUT = 60.0  # generous: only guards against a hang


def keyform() -> str:
    return shutil.which("keyform", path=str(Path(sys.executable).parent)) or "keyform"


class Terminal:
    """The real keyform command on a pseudo-terminal: what it shows, and typing into it."""

    def __init__(self, directory: Path, *args: str):
        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
        env.update(NO_COLOR="1", COLUMNS="200")
        self.process = subprocess.Popen(
            [keyform(), "-C", str(directory), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""  # not yet matched by expect()
        self.shown = b""  # matched already

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while text.encode() not in self.seen:
            if time.monotonic() > deadline:
                os.killpg(self.process.pid, signal.SIGKILL)
                raise AssertionError(f"never saw {text!r}; output:\n{self.seen.decode(errors='replace')}")
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        assert text.encode() in self.seen, self.seen.decode(errors="replace")
        cut = self.seen.index(text.encode()) + len(text)
        self.shown += self.seen[:cut]
        self.seen = self.seen[cut:]

    def type(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\r")

    def finish(self) -> str:
        deadline = time.monotonic() + TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)
        os.close(self.master)
        return (self.shown + self.seen).decode(errors="replace")


def test_apply_walks_through_the_checklist_and_imports_the_secret_through_a_hidden_prompt(tmp_path: Path) -> None:
    directory = project(tmp_path, YAML)
    client_id, client_secret = "cid-7f3a9c", "sec-" + os.urandom(16).hex()

    terminal = Terminal(directory, "-v", "apply")
    terminal.expect("Apply these changes?")
    terminal.type("yes")
    for _ in range(5):  # open, name, integration, permissions, attributes
        terminal.expect("Press Enter when done")
        terminal.type("")
    terminal.expect("Client id (hidden)")
    terminal.type(client_id)
    terminal.expect("Client secret (hidden)")
    terminal.type(client_secret)
    terminal.expect("Press Enter when done")  # save and close the drawer
    terminal.type("")
    output = terminal.finish()

    assert terminal.process.returncode == 0, output
    assert "Apply complete: 1 applied" in output
    assert client_secret not in output and client_id not in output  # hidden input is never echoed
    sink = json.loads((directory / ".keyform" / "secrets.json").read_text())
    assert sink["credentials/payroll"]["client_secret"] == client_secret
    assert sink["credentials/payroll"]["client_id"] == client_id
    record = (directory / "keyform-state" / "personio.json").read_text()
    assert client_secret not in record
    assert json.loads(record)["resources"]["credentials/payroll"]["attributes"]["attributes"] == [
        "first_name",
        "last_name",
    ]
    for path in (directory / ".keyform").rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            assert client_secret not in path.read_text(errors="replace"), path
    # what was done is the record now: the next plan has nothing to do
    again = run(directory, "plan")
    assert "No changes" in again.output, again.output


def test_stop_at_a_step_records_nothing(tmp_path: Path) -> None:
    directory = project(tmp_path, YAML)

    terminal = Terminal(directory, "apply", "--auto-approve")
    terminal.expect("Press Enter when done")
    terminal.type("stop")
    output = terminal.finish()

    assert terminal.process.returncode == 1
    assert "stopped at step 1: nothing recorded for it; run `keyform apply` again to go on" in output
    assert not (directory / "keyform-state" / "personio.json").exists()


def test_apply_without_a_terminal_refuses_in_one_line(tmp_path: Path) -> None:
    directory = project(tmp_path, YAML)

    result = subprocess.run(
        [keyform(), "-C", str(directory), "apply", "--auto-approve"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        env={**os.environ, "CI": "true"},
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: Personio (changed by hand; record keyform-state/personio.json) needs a person: its changes are made "
        "by hand in its UI; run `keyform apply` on a terminal (CI can run `keyform plan` and `keyform verify`)"
    ]
    assert not (directory / "keyform-state").exists()
