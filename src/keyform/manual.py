"""A person carries out a change in a vendor's UI: the walk-through `keyform apply` runs for a
provider without a management API (`Provider.needs_person`, `Provider.manual_steps`).

Everything that talks to the person goes through `person()`: today a terminal (click prompts on
stderr, secrets through a hidden prompt that never echoes them); the CLI's UI object replaces
it once it lands. The library itself never prints or prompts anywhere else.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import click

from keyform.contract import Step
from keyform.errors import KeyformError, ProviderError
from keyform.plan.checklist import step_words

STOP_WORDS = frozenset({"stop", "q", "quit"})


class Person(Protocol):
    """Who carries out manual steps: told each step, asked to confirm it, asked for new secrets."""

    def attended(self) -> bool:
        """Whether someone is there to answer (a terminal, not CI)."""
        ...

    def say(self, text: str) -> None: ...

    def done(self, prompt: str) -> bool:
        """Wait until the person says the step is done (True) or wants to stop (False)."""
        ...

    def prompt_secret(self, label: str) -> str:
        """Read a secret without echoing it; never empty."""
        ...


class TerminalPerson:
    """The person at this terminal: prompts and steps on stderr, secrets through a hidden prompt."""

    def attended(self) -> bool:
        return sys.stdin.isatty() and sys.stderr.isatty() and not os.environ.get("CI")

    def say(self, text: str) -> None:
        click.echo(text, err=True)

    def done(self, prompt: str) -> bool:
        answer = _ask(lambda: click.prompt(prompt, default="", show_default=False, err=True))
        return answer.strip().lower() not in STOP_WORDS

    def prompt_secret(self, label: str) -> str:
        while True:
            value = _ask(lambda: click.prompt(label, hide_input=True, default="", show_default=False, err=True))
            if value.strip():
                return value.strip()
            click.echo("Nothing was entered: paste it again (Ctrl-D stops).", err=True)


def person() -> Person:
    """The one place keyform asks who carries out manual steps (the integrator points it at the UI object)."""
    return TerminalPerson()


def require_person(target: str) -> None:
    """Refuse to apply a manual provider's changes with nobody at a terminal (CI, a pipe)."""
    if not person().attended():
        raise KeyformError(
            f"{target} needs a person: its changes are made by hand in its UI; "
            "run `keyform apply` on a terminal (CI can run `keyform plan` and `keyform verify`)"
        )


class WalkThrough:
    """One apply's walk-throughs: one change at a time on the terminal; once the person says
    stop, no further change starts (each one raises ProviderError, so nothing is recorded)."""

    def __init__(self) -> None:
        self._one_at_a_time = threading.Lock()
        self._stopped = False

    def __call__(self, title: str, steps: Sequence[Step]) -> dict[str, str]:
        """Show `steps` one at a time, wait for each to be done, and read each value a step names
        in `enter` through the hidden prompt. Returns those values by name (never shown or logged).

        ProviderError when the person stops: nothing of this change counts as done.
        """
        with self._one_at_a_time:
            if self._stopped:
                raise ProviderError(f"{title}: not started (the walk-through was stopped)")
            try:
                return self._walk(title, steps)
            except ProviderError:
                self._stopped = True
                raise

    @staticmethod
    def _walk(title: str, steps: Sequence[Step]) -> dict[str, str]:
        you = person()
        you.say(f"\n{title} ({len(steps)} step{'s' if len(steps) != 1 else ''})")
        values: dict[str, str] = {}
        for number, step in enumerate(steps, 1):
            you.say(f"  {number}. {step_words(step)}")
            if step.warning:
                you.say(f"     WARNING: {step.warning}")
            if step.enter:
                for name in step.enter:
                    values[name] = you.prompt_secret(f"     {name.replace('_', ' ').capitalize()} (hidden)")
            elif not you.done("     Press Enter when done (or type stop)"):
                raise ProviderError(
                    f"{title}: stopped at step {number}: nothing recorded for it; run `keyform apply` again to go on"
                )
        return values


def _ask(prompt: Callable[[], object]) -> str:
    """Run a click prompt; end of input or Ctrl-C is a stop, not a traceback."""
    try:
        return str(prompt())
    except (click.Abort, EOFError, KeyboardInterrupt):
        raise ProviderError("the walk-through was stopped: run `keyform apply` again to go on") from None
