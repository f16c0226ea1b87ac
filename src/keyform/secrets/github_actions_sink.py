"""The github-actions sink: mask each new secret in the job log, then hand it to later steps as an output.

For each secret, in this order:

1. every secret value (API key, client secret; not the client id) is written to standard output as
   the workflow command `::add-mask::<value>` (GitHub's documented syntax; `%`, CR and LF escaped as
   `%25`, `%0D`, `%0A` like actions/toolkit does), and stdout is flushed;
2. one step output is appended to the file named by `GITHUB_OUTPUT`, in GitHub's multiline syntax
   `NAME<<DELIMITER` / value / `DELIMITER`, with a random `ghadelimiter_<uuid>` delimiter checked not
   to occur in the value. NAME is the address with every character outside `[A-Za-z0-9_-]` replaced
   by `_` (`users/tom.becker@acme.example` -> `users_tom_becker_acme_example`); two addresses that
   would share a name in one run are refused. The value is the file sink's entry as one line of JSON:
   `${{ fromJSON(steps.<id>.outputs.credentials_payroll-sync).client_secret }}`.

Deletes: nothing to do; step outputs live only for the job that wrote them.

The redaction guarantee, precisely: keyform writes no secret to any output except the sink, and this
sink's one exception is step 1. The `::add-mask::` line necessarily contains the value; it is meant
for the GitHub Actions runner, which reads the step's standard output, handles the command
(registering the value as a secret before anything of that line could be logged) and from then on
masks the value as `***` in everything the job logs. To keep that line from reaching anything but a
runner, preflight and deliver refuse unless both `GITHUB_ACTIONS=true` and `GITHUB_OUTPUT` are set
(so a terminal never sees it); the line is written directly, bypassing keyform's own redactor (which
would otherwise blank it). It is still the caller's job not to pipe keyform's stdout elsewhere
(`keyform apply | tee log` would keep the line in `log`). GitHub masks only log output produced
after the command, which is why the mask comes first; and the runner drops job outputs
(`jobs.<id>.outputs`) that contain a masked value, so use these outputs in later steps of the same
job. The `GITHUB_OUTPUT` file holds the secrets in plain text, as every step output does on the
runner's disk for the duration of the job.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.secrets.base import SecretSink
from keyform.secrets.file_sink import entry_for

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class GithubActionsSink(SecretSink):
    """Masks each new secret on the runner, then writes it as a step output."""

    def __init__(self, environ: Mapping[str, str] | None = None, stream: TextIO | None = None):
        self._environ = environ
        self._stream = stream
        self._names: dict[str, str] = {}  # output name -> address, this run
        self._lock = threading.Lock()

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def describe(self) -> str:
        return f"GitHub Actions step outputs ({self.environ.get('GITHUB_OUTPUT') or 'GITHUB_OUTPUT unset'})"

    def output_path(self) -> Path:
        """The step's output file; SecretSinkError outside a GitHub Actions step."""
        if self.environ.get("GITHUB_ACTIONS") != "true" or not self.environ.get("GITHUB_OUTPUT"):
            raise SecretSinkError(
                "secrets.type github-actions works only inside a GitHub Actions step (GITHUB_ACTIONS=true and "
                "GITHUB_OUTPUT set): use type file or age to run keyform elsewhere"
            )
        return Path(self.environ["GITHUB_OUTPUT"])

    def preflight(self) -> None:
        path = self.output_path()
        try:
            with open(path, "a", encoding="utf-8"):
                pass
        except OSError as error:
            raise SecretSinkError(f"GITHUB_OUTPUT file {path} is not writable ({error.strerror})") from None

    def deliver(self, secret: GeneratedSecret) -> None:
        with self._lock:
            path = self.output_path()
            name = self._claim(output_name(secret.address), secret.address)
            value = json.dumps(entry_for(secret, None), sort_keys=True)
            stream = self._stream or sys.stdout
            for secret_value in secret.values():
                for line in secret_value.splitlines() or [secret_value]:
                    stream.write(f"::add-mask::{escape_data(line)}\n")
            stream.flush()
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            if delimiter in value:  # practically impossible; GitHub's docs ask for the check
                raise SecretSinkError(f"{secret.address}: the output delimiter occurs in the value; apply again")
            try:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                raise SecretSinkError(
                    f"{secret.address}: could not append to GITHUB_OUTPUT file {path} ({error.strerror})"
                ) from None

    def _claim(self, name: str, address: str) -> str:
        holder = self._names.setdefault(name, address)
        if holder != address:
            raise SecretSinkError(
                f"{address}: its output name {name!r} is already used by {holder} in this run; "
                "rename one of them (outputs keep only [A-Za-z0-9_-])"
            )
        return name


def output_name(address: str) -> str:
    """The step output name of an address: [A-Za-z0-9_-] only, starting with a letter or `_`."""
    name = _UNSAFE.sub("_", address)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


def escape_data(value: str) -> str:
    """Escape a workflow command's value the way actions/toolkit does (`%`, CR, LF)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_actions_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    """The `github-actions` sink's factory (`keyform.secrets.SINKS`)."""
    return GithubActionsSink()
