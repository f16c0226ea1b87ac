"""The command line's UI: stdout and stderr through the run's redactor, prompts on the terminal."""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import click

from keyform.errors import KeyformError
from keyform.secrets.redaction import Redactor
from keyform.ui import NotInteractiveError, Progress


def watched() -> bool:
    """A person is watching: stderr is a terminal and no CI variable is set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@dataclass
class TerminalUI:
    """Prints through `redactor`; `color` None: styles on a terminal only, False: never.
    `output_to_stderr`: the output goes to stderr too (stdout is kept for one JSON document)."""

    redactor: Redactor
    color: bool | None = None
    output_to_stderr: bool = False

    @property
    def styled(self) -> bool:
        """Whether text for the output should carry ANSI styles: click would strip them anywhere but a terminal."""
        stream = sys.stderr if self.output_to_stderr else sys.stdout
        return self.color is not False and stream is not None and stream.isatty()

    @property
    def interactive(self) -> bool:
        return sys.stdin is not None and sys.stdin.isatty()

    def echo(self, text: str = "", *, nl: bool = True) -> None:
        click.echo(self.redactor.redact(text), nl=nl, color=self.color, err=self.output_to_stderr)

    def err(self, text: str = "", *, nl: bool = True) -> None:
        click.echo(self.redactor.redact(text), err=True, nl=nl, color=self.color)

    def confirm(self, question: str) -> bool:
        if not self.interactive:
            raise NotInteractiveError("no terminal to confirm on")
        answer = click.prompt(f"\n{question}", default="", show_default=False)
        return answer.strip() == "yes"

    def ask(self, prompt: str) -> str:
        if not self.interactive:
            raise NotInteractiveError(f"no terminal to answer {prompt!r} on")
        try:
            return str(click.prompt(prompt, default="", show_default=False, err=True))
        except (click.Abort, EOFError):
            raise KeyformError("stopped: the input ended") from None

    def prompt_secret(self, prompt: str) -> str:
        if not self.interactive:
            raise NotInteractiveError(f"no terminal to type {prompt} on")
        value: str = click.prompt(prompt, hide_input=True, err=True)
        self.redactor.add(value)
        return value

    def progress(self, total: int, *, label: str, bar: bool = True) -> Progress:
        if bar and total and watched():
            return _Bar(self, total, label)
        return _Lines(self)


@dataclass
class _Lines:
    """A line per step on the output, for logs and CI."""

    ui: TerminalUI

    def advance(self, line: str, *, problem: bool = False) -> None:
        self.ui.echo(line)

    def close(self) -> None:
        return None


class _Bar:
    """A bar on stderr; problems still get a line of their own. Called from worker threads."""

    def __init__(self, ui: TerminalUI, total: int, label: str):
        self.ui = ui
        self._lock = threading.Lock()
        self._bar: click._termui_impl.ProgressBar[int] | None = click.progressbar(
            length=total, label=label, file=sys.stderr
        )
        self._bar.__enter__()

    def advance(self, line: str, *, problem: bool = False) -> None:
        with self._lock:
            if self._bar is None:
                return
            self._bar.update(1)
            if problem:
                self.ui.err(f"\n{line}")

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
                self._bar = None
