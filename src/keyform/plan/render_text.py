"""Terraform-like text rendering; colours only on a terminal (click strips them when piped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, TypedDict, Unpack

import click

from keyform.contract import SYMBOLS, Action, RiskCategory
from keyform.plan.access import Grant
from keyform.plan.checklist import text_lines
from keyform.plan.plan import Plan
from keyform.plan.render import View
from keyform.plan.values import attribute_rows, rotation_note, summary_line

_COLOURS = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.ROTATE: "cyan",
    Action.REPLACE: "magenta",
    Action.ADOPT: "blue",
    Action.FORGET: "blue",
}


class _Palette(NamedTuple):
    """The styled pieces of a text plan, worked out once rather than by click.style per line."""

    symbols: Mapping[Action, str]
    bold: tuple[str, str]  # the codes before and after a text
    new_secret: str
    risk: Mapping[RiskCategory, tuple[str, str]]


class _Style(TypedDict, total=False):
    """The click.style options the text plan uses."""

    fg: str
    bold: bool


def _codes(styled: bool, **styles: Unpack[_Style]) -> tuple[str, str]:
    if not styled:
        return "", ""
    opening, _, closing = click.style("\0", **styles).partition("\0")
    return opening, closing


def _palette(styled: bool) -> _Palette:
    def style(text: str, **styles: Unpack[_Style]) -> str:
        opening, closing = _codes(styled, **styles)
        return f"{opening}{text}{closing}"

    return _Palette(
        symbols={action: style(SYMBOLS[action], fg=colour, bold=True) for action, colour in _COLOURS.items()},
        bold=_codes(styled, bold=True),
        new_secret=style("  [new secret -> sink]", fg="cyan"),
        risk={
            RiskCategory.ESCALATION: _codes(styled, fg="red"),
            RiskCategory.BREAKING: _codes(styled, fg="yellow"),
            RiskCategory.LOOKALIKE: _codes(styled, fg="red", bold=True),
        },
    )


_PALETTES = {True: _palette(True), False: _palette(False)}


def render_text(plan: Plan, *, styled: bool = True) -> str:
    """The plan as text, with ANSI styles unless `styled` is false (where they would only be
    stripped again: click strips them when the output is not a terminal)."""
    palette = _PALETTES[styled]
    bold, bold_end = palette.bold
    lines = [f"keyform plan for {plan.meta.get('target', 'the live API')}", ""]
    if plan.empty:
        lines.append("No changes. The live state matches the desired state.")
    for change in plan.changes:
        reason = f": {change.reason})" if change.reason else ")"
        secret = palette.new_secret if change.details.get("new_secret") else ""
        lines.append(
            f"  {palette.symbols[change.action]} {bold}{change.address}{bold_end}  ({change.action}{reason}{secret}"
        )
        rows = attribute_rows(change)
        if rows:
            width = max([len(row[0]) for row in rows])
            for name, before, after in rows:
                value = after if before is None else f"{before} -> {after}"
                lines.append(f"      {name.ljust(width)}  {value}")
        note = rotation_note(change)
        if note:
            lines.append(f"      old secret  {note}")
        for risk in change.risks:
            opening, closing = palette.risk[risk.category]
            lines.append(f"      {opening}! {risk.category}: {risk.message}{closing}")
        lines += text_lines(change)
    lines += _unmanaged_lines(plan)
    lines += _access_lines(plan)
    lines += ["", summary_line(plan.summary())]
    return "\n".join(lines)


def _grant(grant: Grant) -> str:
    return f"{grant.grant} [sensitive]" if grant.sensitive else grant.grant


def _access_lines(plan: Plan) -> list[str]:
    """Every identity whose effective access changes, each gain (+) and loss (-) and its source."""
    if not plan.access:
        return []
    lines = ["", f"Effective access ({len(plan.access)} identit{'y' if len(plan.access) == 1 else 'ies'}):"]
    for access in plan.access:
        notes = [note for note in (access.change, "" if access.managed else "unmanaged") if note]
        if access.live_secret and access.gains:
            notes.append(f"live secret {access.live_secret} gains it at once")
        lines.append(f"  {access.address}" + (f"  ({'; '.join(notes)})" if notes else ""))
        for sign, grants in (("+", access.gains), ("-", access.losses)):
            for grant in grants:
                lines.append(f"      {sign} {_grant(grant)}  via {', '.join(grant.through)}")
    return lines


def _unmanaged_lines(plan: Plan) -> list[str]:
    """Unmanaged live resources (safety.unmanaged: report), with what each identity holds."""
    holdings = {found.address: found for found in plan.unmanaged_access}
    drift = set(plan.drift)
    lines = []
    for address in plan.unmanaged:
        lines.append(f"  ? {address}  (live, not managed by keyform; safety.unmanaged: report)")
        found = holdings.get(address)
        if found is not None:
            lines.append(f"      holds  {', '.join(map(_grant, found.holds)) or '(nothing)'}")
        if address in drift:
            lines.append("      counts as drift (safety.unmanaged_is_drift)")
    return lines


def text(plan: Plan, view: View) -> str:
    """The `text` format as a renderer (`keyform.plan.render.RENDERERS`)."""
    return render_text(plan, styled=view.styled)
