"""Renderers are plugins (`keyform.plugins`): a plan as text, JSON, Markdown or JUnit XML, and
any format another package registers under `keyform.renderers`.

A renderer is called as `renderer(plan, view)` and returns the whole output as a string.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from keyform.errors import KeyformError
from keyform.plan.plan import Plan
from keyform.plugins import Registry


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """How the plan is shown: `styled` (ANSI styles, text), `checked` (every address compared, junit)."""

    styled: bool = False
    checked: Collection[str] = ()


Renderer = Callable[[Plan, View], str]


RENDERERS = Registry(  # each built-in renderer in its own module, imported when its format is asked for
    group="keyform.renderers",
    built_in={name: f"keyform.plan.render_{name}:{name}" for name in ("text", "json", "markdown", "junit")},
    unknown=lambda name, known: KeyformError(f"plan format {name!r} is unknown: use {', '.join(known)}"),
    broken=lambda name, error: KeyformError(f"plan format {name!r} failed to load ({error}): reinstall it"),
)


def render(plan: Plan, output_format: str = "text", *, styled: bool = True, checked: Collection[str] = ()) -> str:
    """The plan in `output_format`."""
    renderer, _ = RENDERERS.load(output_format)
    if not callable(renderer):
        raise KeyformError(f"plan format {output_format!r} is not a keyform renderer")
    result: str = renderer(plan, View(styled=styled, checked=checked))
    return result
