"""The plan as Markdown for a pull-request comment: who gains what first, details folded."""

from __future__ import annotations

from itertools import groupby

from keyform.contract import SYMBOLS, Change, RiskCategory
from keyform.plan.access import Grant, IdentityAccess
from keyform.plan.checklist import markdown_lines
from keyform.plan.plan import Plan
from keyform.plan.render import View
from keyform.plan.review import review
from keyform.plan.values import attribute_rows, rotation_note, summary_line


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
        *review_lines(plan),
    ]
    if plan.empty:
        out += ["No changes. The live state matches the desired state.", "", *unmanaged_lines(plan)]
        return "\n".join(out).rstrip("\n") + "\n"
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
        for action in ("create", "update", "delete", "rotate", "replace", "adopt", "forget")
        if summary[action]
    ]
    out.append("")
    budget = max_chars - 400  # room for the closing tags and the truncation note
    out += access_lines(plan, budget=budget // 2)
    out += unmanaged_lines(plan)
    used = sum(len(line) + 1 for line in out)
    shown, full = 0, False
    for kind, grouped in groupby(plan.changes, key=lambda change: change.kind):
        changes = list(grouped)
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
    note = rotation_note(change)
    if note:
        lines += ["", f"Old secret: {_cell(note)}"]
    return [*lines, ""]


# -- the review summary, effective access and unmanaged findings -----------------------------------

REVIEW_SHOWN = 5  # per list in the review summary, before "...and N more"
ACCESS_OPEN = 10  # identities shown unfolded; more are folded in <details> (never dropped)


def _shown(items: list[str], more: str) -> list[str]:
    lines = items[:REVIEW_SHOWN]
    if len(items) > REVIEW_SHOWN:
        lines.append(f"  - ...and {len(items) - REVIEW_SHOWN} more ({more})")
    return lines


def review_lines(plan: Plan) -> list[str]:
    """What a reviewer needs on the first screen: who gains and loses access, escalations by
    identity, what stops working and when, unmanaged privileged access."""
    found = review(plan)
    privileged = [item for item in found.unmanaged if item.privileged]
    if not (found.gaining or found.losing or found.escalations or found.breaking or privileged):
        return []
    out = ["**Review**", ""]
    if found.gaining or found.losing:
        out.append(
            f"- Access: {_identities(len(found.gaining))} gain, {_identities(len(found.losing))} lose"
            " (every one under Effective access)"
        )
    if found.escalations:
        out.append(f"- Escalations ({len(found.escalations)}):")
        items = [f"  - `{address}`: {_cell('; '.join(what))}" for address, what in found.escalations.items()]
        out += _shown(items, "under Who gains access")
    if found.breaking:
        out.append(f"- Stops working ({len(found.breaking)}):")
        items = [f"  - {_cell(item.message)} — **{item.when}**" for item in found.breaking]
        out += _shown(items, "under What stops working")
    if privileged:
        out.append(f"- Unmanaged with privileged access ({len(privileged)}):")
        items = [
            f"  - `{item.address}` holds {_grants(item.holds)}{' — counts as drift' if item.drift else ''}"
            for item in privileged
        ]
        out += _shown(items, "under Unmanaged live resources")
    return [*out, ""]


def _identities(count: int) -> str:
    return f"{count} identit{'y' if count == 1 else 'ies'}"


def _grants(grants: tuple[Grant, ...]) -> str:
    return ", ".join(f"**{grant.grant}** (sensitive)" if grant.sensitive else grant.grant for grant in grants)


def _via(grants: tuple[Grant, ...]) -> str:
    """Grants grouped by the changes they come through: "**attribute:salary** (sensitive) via `roles/payroll`"."""
    by_source: dict[tuple[str, ...], list[Grant]] = {}
    for grant in grants:
        by_source.setdefault(grant.through, []).append(grant)
    return "; ".join(
        f"{_grants(tuple(items))} via {', '.join(f'`{source}`' for source in through)}"
        if through
        else _grants(tuple(items))
        for through, items in by_source.items()
    )


def _access_row(access: IdentityAccess) -> str:
    notes = [note for note in (access.change, "" if access.managed else "unmanaged") if note]
    if access.live_secret and access.gains:
        notes.append(f"live secret `{access.live_secret}` gains it at once")
    return f"| `{access.address}` | {'; '.join(notes)} | {_via(access.gains)} | {_via(access.losses)} |"


def access_lines(plan: Plan, *, budget: int = COMMENT_LIMIT) -> list[str]:
    """Every identity whose effective access changes, with each gain and loss; folded when long.
    Only a table larger than `budget` characters (a comment's limit) is cut, and the cut counted."""
    if not plan.access:
        return []
    gaining = sum(1 for access in plan.access if access.gains)
    losing = sum(1 for access in plan.access if access.losses)
    title = f"Effective access ({len(plan.access)} identities: {gaining} gain, {losing} lose)"
    table = ["| identity | note | gains | loses |", "|---|---|---|---|"]
    used = 0
    for shown, access in enumerate(plan.access):
        row = _access_row(access)
        used += len(row) + 1
        if used > budget:
            table += [
                "",
                f"_{len(plan.access) - shown} more identities do not fit in this comment: every one is in the"
                " plan file's `effective_access` (`keyform show PLANFILE --format json`)._",
            ]
            break
        table.append(row)
    if len(plan.access) <= ACCESS_OPEN:
        return [f"#### {title}", "", *table, ""]
    return [f"#### {title}", "", f"<details><summary>{title}</summary>", "", *table, "", "</details>", ""]


def unmanaged_lines(plan: Plan) -> list[str]:
    """Unmanaged live resources (safety.unmanaged: report), with what each identity holds."""
    if not plan.unmanaged:
        return []
    holdings = {found.address: found for found in plan.unmanaged_access}
    drift = set(plan.drift)
    out = [f"#### Unmanaged live resources ({len(plan.unmanaged)})", ""]
    for address in plan.unmanaged:
        found = holdings.get(address)
        holds = f" holds {_grants(found.holds) or 'nothing'}" if found is not None else ""
        out.append(f"- `{address}`{holds}{' — counts as drift' if address in drift else ''}")
    return [*out, ""]


def markdown(plan: Plan, view: View) -> str:
    """The `markdown` format as a renderer (`keyform.plan.render.RENDERERS`)."""
    return render_markdown(plan)
