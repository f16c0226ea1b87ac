"""Manual checklists: the steps a person follows in a vendor's UI for a provider without a
management API (`Provider.manual_steps`), as the text and Markdown renderers show them."""

from __future__ import annotations

from keyform.contract import Change, Step, steps_of
from keyform.plan.plan import Plan


def step_words(step: Step) -> str:
    """One step in words: who alone can do it, what to do, and what keyform asks for after it."""
    only = f"[{step.only} only] " if step.only else ""
    enter = f" Then enter the {_joined(step.enter)} when keyform asks (hidden input)." if step.enter else ""
    return f"{only}{step.text}{enter}"


def text_lines(change: Change, indent: str = "      ") -> list[str]:
    """A change's steps as numbered text lines (none when the change has no steps)."""
    steps = steps_of(change)
    if not steps:
        return []
    lines = [f"{indent}steps in the UI:"]
    for number, step in enumerate(steps, 1):
        lines.append(f"{indent}  {number}. {step_words(step)}")
        if step.warning:
            lines.append(f"{indent}     WARNING: {step.warning}")
    return lines


def markdown_lines(plan: Plan) -> list[str]:
    """Every change's steps as one Markdown task list, in apply order (none without steps)."""
    with_steps = [(change, steps_of(change)) for change in plan.changes]
    with_steps = [(change, steps) for change, steps in with_steps if steps]
    if not with_steps:
        return []
    total = sum(len(steps) for _, steps in with_steps)
    out = [f"#### Manual checklist ({total} step{'s' if total != 1 else ''}, in this order)", ""]
    for change, steps in with_steps:
        out.append(f"**`{change.address}`** ({change.action.value})")
        out.append("")
        for step in steps:
            out.append(f"- [ ] {_markdown(step_words(step))}")
            if step.warning:
                out.append(f"  **Warning:** {_markdown(step.warning)}")
        out.append("")
    return out


def _markdown(text: str) -> str:
    return text.replace("\n", " ")


def _joined(parts: tuple[str, ...]) -> str:
    names = [part.replace("_", " ") for part in parts]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
