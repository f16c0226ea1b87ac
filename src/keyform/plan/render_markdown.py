"""The plan as Markdown for a pull-request comment: who gains what first, details folded."""

from __future__ import annotations

from itertools import groupby

from keyform.contract import SYMBOLS, Change, RiskCategory
from keyform.plan.checklist import markdown_lines
from keyform.plan.plan import Plan
from keyform.plan.values import attribute_rows, summary_line


def _cell(text: str | None) -> str:
    return "" if text is None else text.replace("|", "\\|").replace("\n", " ")


COMMENT_LIMIT = 65_536  # GitHub's limit for one pull-request comment
RISKS_SHOWN = 50  # per category, before "...and N more"


def render_markdown(plan: Plan, *, max_chars: int = COMMENT_LIMIT - 1_536) -> str:
    """Summary first (counts, who gains what, what breaks), then details folded per kind.

    Output stops before `max_chars` (room is left for whatever a CI job wraps around it); what
    didn't fit is counted in a closing note that points at the full plan file.
    """
    out = [
        f"### keyform plan for `{plan.meta.get('target', 'the live API')}`",
        "",
        f"**{summary_line(plan.summary())}**",
        "",
    ]
    if plan.empty:
        out.append("No changes. The live state matches the desired state.")
        return "\n".join(out) + "\n"
    for category, title in (
        (RiskCategory.LOOKALIKE, "Lookalike identities"),
        (RiskCategory.ESCALATION, "Who gains access"),
        (RiskCategory.BREAKING, "What stops working"),
    ):
        risks = [risk.message for change in plan.changes for risk in change.risks if risk.category == category]
        if risks:
            out += [f"#### {title} ({len(risks)})", *[f"- {_cell(message)}" for message in risks[:RISKS_SHOWN]]]
            if len(risks) > RISKS_SHOWN:
                out.append(f"- ...and {len(risks) - RISKS_SHOWN} more (see the details below)")
            out.append("")
    out += markdown_lines(plan)
    summary = plan.summary()
    out += ["| action | count |", "|---|---:|"]
    out += [
        f"| {action} | {summary[action]} |"
        for action in ("create", "update", "delete", "rotate", "replace", "adopt")
        if summary[action]
    ]
    out.append("")
    if plan.unmanaged:
        out += [f"Unmanaged live resources ({len(plan.unmanaged)}): " + ", ".join(f"`{a}`" for a in plan.unmanaged), ""]
    used = sum(len(line) + 1 for line in out)
    budget = max_chars - 400  # room for the closing tags and the truncation note
    shown, full = 0, False
    for kind, changes in groupby(plan.changes, key=lambda change: change.kind):
        changes = list(changes)
        block = [f"<details><summary>{kind} ({len(changes)} change{'s' if len(changes) != 1 else ''})</summary>", ""]
        opening = len(block)
        for change in changes:
            lines = _change_lines(change)
            size = sum(len(line) + 1 for line in lines)
            if used + sum(len(line) + 1 for line in block) + size > budget:
                full = True
                break
            block += lines
            shown += 1
        if len(block) > opening:
            out += [*block, "</details>", ""]
            used += sum(len(line) + 1 for line in block) + len("</details>\n\n")
        if full:
            break
    hidden = len(plan.changes) - shown
    if hidden:
        out += [
            f"_Truncated: {hidden} of {len(plan.changes)} changes are not shown, to stay under the "
            f"{COMMENT_LIMIT:,}-character comment limit. The full plan is in the plan file: "
            "`keyform show PLANFILE`._",
            "",
        ]
    return "\n".join(out)


def _change_lines(change: Change) -> list[str]:
    reason = f" — {_cell(change.reason)}" if change.reason else ""
    secret = " · new secret → sink" if change.details.get("new_secret") else ""
    lines = [f"**`{SYMBOLS[change.action]}` `{change.address}`** ({change.action.value}){reason}{secret}"]
    rows = attribute_rows(change)
    if rows:
        lines += ["", "| attribute | before | after |", "|---|---|---|"]
        lines += [f"| {name} | {_cell(before)} | {_cell(after)} |" for name, before, after in rows]
    return [*lines, ""]
