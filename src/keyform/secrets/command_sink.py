"""The command sink: run a configured program once per new secret, the secret on its standard input.

The command is an argv list run without a shell, in the directory of keyform.yaml (a relative
program path with a `/` resolves there too). Its standard input is one JSON object:
`{"address": ..., "type": ..., "api_key" | "client_id"+"client_secret": ..., "secret_id": ..., "created_at": ...}`.
The secret is never in argv or the environment; the address (not a secret) is also in the
environment variable `KEYFORM_ADDRESS`. A non-zero exit or a timeout (`timeout`, default 60 s) is a
SecretSinkError with the exit code.

Deletes: the program is only ever given new secrets; a resource apply deleted is not announced to
it (its secret died with the resource), so the store keeps what it holds until you remove it.

The program's output never reaches keyform's output: a program may print what it read, or part of
it, and scrubbing can only find whole values. Errors name the exit code and how many bytes it wrote.
`show_output: true` adds the tail of its standard error to the error, scrubbed of the secret's whole
values only: a program that prints part of a secret shows that part, so turn it on only to debug a
program you trust not to.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.secrets.base import SecretSink
from keyform.secrets.file_sink import entry_for
from keyform.secrets.redaction import Redactor

DEFAULT_TIMEOUT = 60.0
STDERR_LIMIT = 500  # characters of standard error kept in a message


class CommandSink(SecretSink):
    """Pipes each new secret, as JSON, into a program."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        show_output: bool = False,
    ):
        if not argv or not all(isinstance(arg, str) and arg for arg in argv):
            raise SecretSinkError("secrets.command must be a non-empty list of strings, e.g. [pass, insert, -m, NAME]")
        if not isinstance(show_output, bool):
            raise SecretSinkError(f"secrets.show_output must be true or false, not {show_output!r}")
        self.argv = list(argv)
        self.show_output = show_output
        self.cwd = Path(cwd) if cwd else Path.cwd()
        try:
            self.timeout = float(timeout)
        except (TypeError, ValueError):
            self.timeout = 0.0
        if self.timeout <= 0:
            raise SecretSinkError(f"secrets.timeout must be a positive number of seconds, not {timeout!r}")

    def describe(self) -> str:
        return f"command {self.argv[0]}"

    def executable(self) -> str:
        """The program's full path; SecretSinkError if it is missing or not executable."""
        program = self.argv[0]
        if "/" in program and not Path(program).is_absolute():
            program = str(self.cwd / program)
        found = shutil.which(program)
        if found is None:
            raise SecretSinkError(
                f"secrets.command program {self.argv[0]!r} was not found or is not executable: "
                "install it, fix the path, or chmod +x it"
            )
        return found

    def preflight(self) -> None:
        self.executable()

    def deliver(self, secret: GeneratedSecret) -> None:
        document = {"address": secret.address, **entry_for(secret, None)}
        environment = {**os.environ, "KEYFORM_ADDRESS": secret.address}
        command = [self.executable(), *self.argv[1:]]
        try:
            returncode, stdout, stderr = _run(command, document, self.cwd, environment, self.timeout)
        except subprocess.TimeoutExpired:
            raise SecretSinkError(
                f"{secret.address}: secrets.command {self.argv[0]!r} did not finish within {self.timeout:g}s "
                "(it was killed): fix the command or raise secrets.timeout"
            ) from None
        except OSError as error:
            raise SecretSinkError(
                f"{secret.address}: could not run secrets.command {self.argv[0]!r} ({error.strerror})"
            ) from None
        if returncode != 0:
            raise SecretSinkError(
                f"{secret.address}: secrets.command {self.argv[0]!r} exited with code {returncode}"
                + self._output(stdout, stderr, secret)
            )

    def _output(self, stdout: bytes, stderr: bytes, secret: GeneratedSecret) -> str:
        """What an error says about the program's output: its size, or (show_output) its scrubbed stderr."""
        if self.show_output:
            text = _scrubbed(stderr, secret)
            if not text:
                return " (no output on standard error)"
            return f"; its standard error (shown by secrets.show_output, may hold parts of secrets): {text}"
        size = len(stdout) + len(stderr)
        if not size:
            return " (no output)"
        return f" ({size} bytes of output, not shown: it may hold secrets; secrets.show_output: true shows it)"


def make_command_sink(options: Mapping[str, Any], base_dir: Path) -> CommandSink:
    """A CommandSink from `secrets:` options (`command`, optional `timeout` and `show_output`)."""
    argv = options.get("command")
    if isinstance(argv, str) or not isinstance(argv, Sequence):
        raise SecretSinkError("secrets.command must be a list (argv, no shell), e.g. [pass, insert, -m, NAME]")
    return CommandSink(
        list(argv),
        cwd=base_dir,
        timeout=options.get("timeout", DEFAULT_TIMEOUT),
        show_output=options.get("show_output", False),
    )


def _run(
    command: list[str], document: dict[str, Any], cwd: Path, environment: dict[str, str], timeout: float
) -> tuple[int, bytes, bytes]:
    """Run the command in its own process group (a timeout kills its children too); (exit code, stdout, stderr)."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=environment,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(json.dumps(document, sort_keys=True).encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def _scrubbed(stderr: bytes, secret: GeneratedSecret) -> str:
    """The end of a program's standard error on one line, without the secret's values."""
    redactor = Redactor()
    redactor.add(*secret.values())
    text = redactor.redact(stderr.decode("utf-8", errors="replace"))
    text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= STDERR_LIMIT else "..." + text[-STDERR_LIMIT:]


def command_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    """The `command` sink's factory (`keyform.secrets.SINKS`)."""
    return make_command_sink(options, base_dir)
