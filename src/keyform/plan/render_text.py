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


def _codes(**styles: object) -> tuple[str, str]:
    """The ANSI codes click.style puts before and after a text, worked out once, not per line."""
    opening, _, closing = click.style("\0", **styles).partition("\0")
    return opening, closing


_SYMBOLS = {action: click.style(SYMBOLS[action], fg=colour, bold=True) for action, colour in _COLOURS.items()}
_BOLD, _BOLD_END = _codes(bold=True)
_NEW_SECRET = click.style("  [new secret -> sink]", fg="cyan")
_RISK = {RiskCategory.ESCALATION: _codes(fg="red"), RiskCategory.BREAKING: _codes(fg="yellow")}


def render_text(plan: Plan) -> str:
    """The plan as text with ANSI styles (strip them with click.unstyle or by piping)."""
    lines = [f"keyform plan for {plan.meta.get('target', 'the live API')}", ""]
    if plan.empty:
        lines.append("No changes. The live state matches the desired state.")
    for change in plan.changes:
        reason = f": {change.reason})" if change.reason else ")"
        secret = _NEW_SECRET if change.details.get("new_secret") else ""
        lines.append(
            f"  {_SYMBOLS[change.action]} {_BOLD}{change.address}{_BOLD_END}  ({change.action}{reason}{secret}"
        )
        rows = attribute_rows(change)
        if rows:
            width = max([len(row[0]) for row in rows])
            for name, before, after in rows:
                value = after if before is None else f"{before} -> {after}"
                lines.append(f"      {name.ljust(width)}  {value}")
        for risk in change.risks:
            opening, closing = _RISK[risk.category]
            lines.append(f"      {opening}! {risk.category}: {risk.message}{closing}")
    for address in plan.unmanaged:
        lines.append(f"  ? {address}  (live, not managed by keyform; safety.unmanaged: report)")
    lines += ["", summary_line(plan.summary())]
    return "\n".join(lines)
