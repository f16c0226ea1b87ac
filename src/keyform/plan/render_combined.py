"""Many targets' saved plans as one pull-request comment: a summary row per target, then each review.

The comment stays under GitHub's limit. Every target's summary row is always there; when the
reviews don't all fit, each gets a fair share of what is left (small ones whole, the share of
the rest given to the larger ones), a large one is rendered into its share (its per-change
details go first, with the Markdown renderer's note), and one that still doesn't fit is
replaced by a note naming its plan file. Nothing is dropped without a note saying where it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keyform.plan.plan import Plan
from keyform.plan.render_markdown import COMMENT_LIMIT, render_markdown
from keyform.plan.values import summary_line

ACTIONS = ("create", "update", "delete", "rotate", "replace", "adopt")
ROOM = 1_536  # left for whatever a CI job wraps around the comment (a marker, a heading)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPlan:
    """One target's saved plan and the file it came from."""

    name: str
    path: Path
    plan: Plan

    @property
    def status(self) -> str:
        if not self.plan.empty:
            return "changes"
        return "drift (unmanaged)" if self.plan.drifted else "no changes"


def target_name(path: Path) -> str:
    """A target's name from its plan file: "plan-teams--payments.json" -> "teams/payments"."""
    stem = path.name.removesuffix(".json").removeprefix("plan-")
    return stem.replace("--", "/") or path.name


def render_combined(plans: Sequence[TargetPlan], *, max_chars: int = COMMENT_LIMIT - ROOM) -> str:
    """The summary table (every target), then each target's review folded in <details>."""
    head = _summary(plans)
    budget = max_chars - sum(len(line) + 1 for line in head)
    sections = _fit([_section(item) for item in plans], plans, budget)
    return "\n".join([*head, *sections]).rstrip("\n") + "\n"


def _summary(plans: Sequence[TargetPlan]) -> list[str]:
    changed = sum(1 for item in plans if not item.plan.empty)
    out = [
        f"### keyform plan for {len(plans)} targets ({changed} with changes)",
        "",
        "| target | API | " + " | ".join(ACTIONS) + " | status |",
        "|---|---|" + "---:|" * len(ACTIONS) + "---|",
    ]
    for item in plans:
        counts = item.plan.summary()
        api = str(item.plan.meta.get("target", "")).replace("|", "\\|")
        cells = " | ".join(str(counts[action]) if counts[action] else "" for action in ACTIONS)
        out.append(f"| `{item.name}` | {api} | {cells} | {item.status} |")
    return [*out, ""]


def _section(item: TargetPlan, max_chars: int | None = None) -> str:
    review = render_markdown(item.plan) if max_chars is None else render_markdown(item.plan, max_chars=max_chars)
    opened = " open" if not item.plan.empty else ""
    title = f"{item.name}: {summary_line(item.plan.summary())}"
    return f"<details{opened}><summary>{title}</summary>\n\n{review.rstrip()}\n\n</details>\n"


def _fit(sections: list[str], plans: Sequence[TargetPlan], budget: int) -> list[str]:
    """Each section whole if all fit; else small ones whole and the rest cut to a fair share."""
    if sum(len(text) + 1 for text in sections) <= budget:
        return sections
    fitted = list(sections)
    left, count = budget, len(sections)
    for index in sorted(range(len(sections)), key=lambda i: len(sections[i])):
        share = left // count
        if len(sections[index]) + 1 > share:
            fitted[index] = _cut(plans[index], share)
        left -= len(fitted[index]) + 1
        count -= 1
    return fitted


def _cut(item: TargetPlan, share: int) -> str:
    """The section rendered into `share` characters, or a note pointing at the plan file."""
    pointer = f"The full plan is in `{item.path}`: `keyform show {item.path} --format markdown`."
    note = (
        f"**{item.name}**: {summary_line(item.plan.summary())}. _Its review does not fit in this comment. {pointer}_\n"
    )
    room = share - len(pointer) - 16
    if room > 2_000:  # enough for a summary and its first details
        text = _section(item, max_chars=room)
        if len(text) + 1 <= share - len(pointer) - 8:
            return f"{text.removesuffix(chr(10))}\n_{pointer}_\n"
    return note
