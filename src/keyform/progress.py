"""Apply progress: a bar on a terminal, one line per change in logs (CI), never a secret."""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from keyform.apply import ChangeResult
    from keyform.cli import GlobalOptions


def on_terminal() -> bool:
    """A person is watching: stderr is a terminal and no CI variable is set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def change_line(result: ChangeResult) -> str:
    note = f": {result.message}" if result.message else ""
    secret = " (new secret delivered)" if result.secret_delivered else ""
    return f"  {result.status:>7}  {result.change.action.value} {result.change.address}{secret}{note}"


class Progress:
    """Called from the executor's worker threads after each change."""

    def __init__(self, options: GlobalOptions, total: int, *, bar: bool):
        self.options = options
        self._lock = threading.Lock()
        self._bar = click.progressbar(length=total, label="Applying", file=sys.stderr) if bar and total else None
        if self._bar is not None:
            self._bar.__enter__()

    def __call__(self, result: ChangeResult) -> None:
        if result.status == "skipped" and result.message.startswith("not started"):
            return  # apply stopped: the report sums these up in one line
        with self._lock:
            if self._bar is None:
                self.options.echo(change_line(result))
                return
            self._bar.update(1)
            if result.status not in ("applied", "planned"):  # problems still get their own line
                self.options.echo(f"\n{change_line(result)}", err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
