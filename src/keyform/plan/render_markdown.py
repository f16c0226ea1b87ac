"""The plan as Markdown for a pull-request comment: who gains what first, details folded."""

from __future__ import annotations

from itertools import groupby

from keyform.plan.changes import SYMBOLS, RiskCategory
from keyform.plan.plan import Plan
from keyform.plan.values import attribute_rows, summary_line


def _cell(text: str | None) -> str:
    return "" if text is None else text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: Plan) -> str:
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
        (RiskCategory.ESCALATION, "Who gains access"),
        (RiskCategory.BREAKING, "What stops working"),
    ):
        risks = [risk.message for change in plan.changes for risk in change.risks if risk.category == category]
        if risks:
            out += [f"#### {title} ({len(risks)})", *[f"- {_cell(message)}" for message in risks], ""]
    summary = plan.summary()
    out += ["| action | count |", "|---|---:|"]
    out += [
        f"| {action} | {summary[action]} |"
        for action in ("create", "update", "delete", "rotate", "replace", "adopt")
        if summary[action]
    ]
    out.append("")
    for kind, changes in groupby(plan.changes, key=lambda change: change.kind):
        changes = list(changes)
        out += [f"<details><summary>{kind} ({len(changes)} change{'s' if len(changes) != 1 else ''})</summary>", ""]
        for change in changes:
            reason = f" — {_cell(change.reason)}" if change.reason else ""
            secret = " · new secret → sink" if change.details.get("new_secret") else ""
            out.append(f"**`{SYMBOLS[change.action]}` `{change.address}`** ({change.action.value}){reason}{secret}")
            rows = attribute_rows(change)
            if rows:
                out += ["", "| attribute | before | after |", "|---|---|---|"]
                out += [f"| {name} | {_cell(before)} | {_cell(after)} |" for name, before, after in rows]
            out.append("")
        out += ["</details>", ""]
    if plan.unmanaged:
        out += [f"Unmanaged live resources ({len(plan.unmanaged)}): " + ", ".join(f"`{a}`" for a in plan.unmanaged), ""]
    return "\n".join(out)
