"""Terraform-like text rendering; colours only on a terminal (click strips them when piped)."""

from __future__ import annotations

import click

from keyform.plan.changes import SYMBOLS, Action, RiskCategory
from keyform.plan.plan import Plan
from keyform.plan.values import attribute_rows, summary_line

_COLOURS = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.ROTATE: "cyan",
    Action.REPLACE: "magenta",
    Action.ADOPT: "blue",
}


def render_text(plan: Plan) -> str:
    """The plan as text with ANSI styles (strip them with click.unstyle or by piping)."""
    lines = [f"keyform plan for {plan.meta.get('target', 'the live API')}", ""]
    if plan.empty:
        lines.append("No changes. The live state matches the desired state.")
    for change in plan.changes:
        symbol = click.style(SYMBOLS[change.action], fg=_COLOURS[change.action], bold=True)
        header = f"  {symbol} {click.style(change.address, bold=True)}  ({change.action.value}"
        secret = click.style("  [new secret -> sink]", fg="cyan") if change.details.get("new_secret") else ""
        lines.append(header + (f": {change.reason})" if change.reason else ")") + secret)
        rows = attribute_rows(change)
        width = max((len(name) for name, _, _ in rows), default=0)
        for name, before, after in rows:
            value = after if before is None else f"{before} -> {after}"
            lines.append(f"      {name.ljust(width)}  {value}")
        for risk in change.risks:
            colour = "red" if risk.category == RiskCategory.ESCALATION else "yellow"
            lines.append("      " + click.style(f"! {risk.category.value}: {risk.message}", fg=colour))
    for address in plan.unmanaged:
        lines.append(f"  ? {address}  (live, not managed by keyform; safety.unmanaged: report)")
    lines += ["", summary_line(plan.summary())]
    return "\n".join(lines)
