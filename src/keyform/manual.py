"""A person carries out a change in a vendor's UI: the walk-through `keyform apply` runs for a
provider without a management API (`Provider.needs_person`, `Provider.manual_steps`).

Everything that talks to the person goes through the run's UI object (`keyform.ui.UI`, handed to
the provider by `Provider.use_ui`): steps on its error stream, a plain answer to go on, and each
new secret through its hidden prompt, which never echoes it. The library prints nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from keyform.contract import Step
from keyform.errors import KeyformError, ProviderError
from keyform.plan.checklist import step_words
from keyform.ui import UI

STOP_WORDS = frozenset({"stop", "q", "quit"})


class WalkThrough:
    """One apply's walk-throughs: one change at a time on the terminal; once the person says
    stop, no further change starts (each one raises ProviderError, so nothing is recorded)."""

    def __init__(self) -> None:
        self._one_at_a_time = threading.Lock()
        self._stopped = False
        self.ui: UI | None = None  # set by the provider's use_ui before any apply

    def __call__(self, title: str, steps: Sequence[Step]) -> dict[str, str]:
        """Show `steps` one at a time, wait for each to be done, and read each value a step names
        in `enter` through the hidden prompt. Returns those values by name (never shown or logged).

        ProviderError when the person stops: nothing of this change counts as done.
        """
        with self._one_at_a_time:
            if self._stopped:
                raise ProviderError(f"{title}: not started (the walk-through was stopped)")
            try:
                if self.ui is None:
                    raise ProviderError(f"{title}: no one to walk through its steps (the provider was given no UI)")
                return _walk(self.ui, title, steps)
            except ProviderError:
                self._stopped = True
                raise


def _walk(ui: UI, title: str, steps: Sequence[Step]) -> dict[str, str]:
    ui.err(f"\n{title} ({len(steps)} step{'s' if len(steps) != 1 else ''})")
    values: dict[str, str] = {}
    for number, step in enumerate(steps, 1):
        ui.err(f"  {number}. {step_words(step)}")
        if step.warning:
            ui.err(f"     WARNING: {step.warning}")
        if step.enter:
            for name in step.enter:
                values[name] = _secret(ui, f"     {name.replace('_', ' ').capitalize()} (hidden)")
        elif _answer(ui, "     Press Enter when done (or type stop)").strip().lower() in STOP_WORDS:
            raise ProviderError(
                f"{title}: stopped at step {number}: nothing recorded for it; run `keyform apply` again to go on"
            )
    return values


def _secret(ui: UI, label: str) -> str:
    while True:
        value = _stop_on_end(lambda: ui.prompt_secret(label)).strip()
        if value:
            return value
        ui.err("Nothing was entered: paste it again (Ctrl-D stops).")


def _answer(ui: UI, prompt: str) -> str:
    return _stop_on_end(lambda: ui.ask(prompt))


def _stop_on_end(question: Callable[[], str]) -> str:
    """Ask; end of input or Ctrl-C is a stop of the walk-through, not a traceback."""
    try:
        return question()
    except (KeyboardInterrupt, EOFError):
        raise ProviderError("the walk-through was stopped: run `keyform apply` again to go on") from None
    except KeyformError as error:
        raise ProviderError(f"the walk-through was stopped ({error}): run `keyform apply` again to go on") from None
