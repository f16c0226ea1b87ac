"""How library code talks to whoever runs it: the `UI` a caller hands the engine.

Nothing below the command line prints, prompts or exits; it reports through a `UI` (the idea of
chalice's UI object and twine's Settings). The command line builds a terminal one
(`keyform.cli.terminal.TerminalUI`); a library caller or a test uses `RecordingUI`, which prints
nothing, keeps what was said, and answers prompts from a script.

Everything a UI is given may be shown to a person or land in a CI log, so whoever builds one
passes it through the run's redactor; `prompt_secret` never echoes what is typed and never takes
the secret from argv.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from keyform.errors import KeyformError


class Progress(Protocol):
    """A running count of finished steps (a bar on a terminal, a line per step in a log)."""

    def advance(self, line: str, *, problem: bool = False) -> None:
        """One step finished; `line` describes it (a bar shows it only when it is a `problem`)."""

    def close(self) -> None:
        """The work ended (or stopped): remove the bar."""


class UI(Protocol):
    """What the engine, the providers and the sinks may ask of the person or program running them."""

    @property
    def styled(self) -> bool:
        """Whether text for `echo` may carry ANSI styles."""
        ...

    @property
    def interactive(self) -> bool:
        """Whether someone can answer `confirm` and `prompt_secret`."""
        ...

    def echo(self, text: str = "", *, nl: bool = True) -> None:
        """The run's output (a plan, a report): stdout for the command line."""

    def err(self, text: str = "", *, nl: bool = True) -> None:
        """Notes and warnings beside the output: stderr for the command line."""

    def confirm(self, question: str) -> bool:
        """Ask `question`; True only for the answer "yes". Raises NotInteractiveError if no one can answer."""
        ...

    def ask(self, prompt: str) -> str:
        """Ask for a plain answer (shown as typed; empty is allowed). Raises NotInteractiveError if
        no one can answer, and KeyformError when the person ends the input (Ctrl-D, Ctrl-C)."""
        ...

    def prompt_secret(self, prompt: str) -> str:
        """Ask for a secret without echoing it. Raises NotInteractiveError if no one can answer."""
        ...

    def progress(self, total: int, *, label: str, bar: bool = True) -> Progress:
        """Count `total` steps; `bar=False` asks for a line per step even on a terminal."""
        ...


class NotInteractiveError(KeyformError):
    """A question needs an answer and no one is there to give it (no terminal, a CI job)."""


@dataclass
class _RecordedProgress:
    lines: list[str]

    def advance(self, line: str, *, problem: bool = False) -> None:
        self.lines.append(line)

    def close(self) -> None:
        return None


@dataclass
class RecordingUI:
    """A UI that prints nothing: it keeps what was said (`out`, `errors`) and answers prompts from
    `answers` (for `confirm`) and `secrets` (for `prompt_secret`), in order. With nothing left to
    answer, it is not interactive and a question raises NotInteractiveError."""

    answers: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    styled: bool = False
    out: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    @classmethod
    def answering(cls, answers: Iterable[str] = (), secrets: Iterable[str] = ()) -> RecordingUI:
        return cls(answers=list(answers), secrets=list(secrets))

    @property
    def interactive(self) -> bool:
        return bool(self.answers or self.secrets)

    def echo(self, text: str = "", *, nl: bool = True) -> None:
        self.out.append(text)

    def err(self, text: str = "", *, nl: bool = True) -> None:
        self.errors.append(text)

    def confirm(self, question: str) -> bool:
        self.asked.append(question)
        if not self.answers:
            raise NotInteractiveError(f"no answer to {question!r}: no one is there to confirm")
        return self.answers.pop(0).strip() == "yes"

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        if not self.answers:
            raise NotInteractiveError(f"no answer to {prompt!r}: no one is there to answer")
        return self.answers.pop(0)

    def prompt_secret(self, prompt: str) -> str:
        self.asked.append(prompt)
        if not self.secrets:
            raise NotInteractiveError(f"no answer to {prompt!r}: no one is there to type the secret")
        return self.secrets.pop(0)

    def progress(self, total: int, *, label: str, bar: bool = True) -> Progress:
        return _RecordedProgress(self.out)
