"""What an apply did, in words: the summary line, the failures, and what to do next."""

from __future__ import annotations

from typing import Any

from keyform.apply import APPLIED, FAILED, PLANNED, SKIPPED, STALE, ApplyReport

SHOWN_ADDRESSES = 5  # a summary line names this many addresses, then "and N more"


def format_report(report: ApplyReport, sink: str) -> str:
    """The report an apply ends with; `sink` describes where new secrets went."""
    if not report.results:
        return "Nothing to apply."
    if all(r.status == PLANNED for r in report.results):
        return f"Dry run: {len(report.results)} change(s) would be applied in the order shown; nothing was changed."
    delivered = sum(1 for r in report.results if r.secret_delivered)
    lines = [
        f"\nApply {'complete' if report.ok else 'incomplete'}: {report.count(APPLIED)} applied, "
        f"{report.count(FAILED)} failed, {report.count(STALE)} stale, {report.count(SKIPPED)} skipped."
    ]
    if delivered:
        lines.append(f"{delivered} new secret(s) delivered to {sink}.")
    for result in report.results:
        if result.status in (FAILED, STALE):
            lines.append(f"  {result.status}: {result.change.address}: {result.message}")
    lines.extend(_skipped_lines(report))
    if report.count(STALE):
        lines.append("Stale changes were not applied: run `keyform plan` again and review the new plan.")
    if report.emergency_file:
        lines.append(f"New secrets that could not reach the sink are in {report.emergency_file} (mode 0600).")
    elif report.unreachable:
        lines.append(
            f"Apply stopped: {report.stopped}. Start it (or fix provider.url) and run `keyform apply` again: "
            "applied changes are not repeated."
        )
    elif report.stopped:
        lines.append(f"Apply stopped: {report.stopped}. Run `keyform apply` again to finish.")
    elif report.count(FAILED):
        lines.append("Fix the failures and run `keyform apply` again: applied changes are not repeated.")
    elif not report.ok:
        lines.append("Run `keyform apply` again to finish: applied changes are not repeated.")
    return "\n".join(lines)


def report_document(report: ApplyReport | None, sink: str) -> dict[str, Any]:
    """The report as one JSON-ready document (None: the plan had no changes). Messages are the
    executor's, redacted; no secret is in it."""
    results = report.results if report is not None else []
    statuses = (APPLIED, FAILED, STALE, SKIPPED, PLANNED)
    return {
        "ok": report.ok if report is not None else True,
        "dry_run": bool(results) and all(r.status == PLANNED for r in results),
        "counts": {status: sum(1 for r in results if r.status == status) for status in statuses},
        "changes": [
            {
                "address": r.change.address,
                "action": str(r.change.action),
                "status": r.status,
                "message": r.message,
                "secret_delivered": r.secret_delivered,
            }
            for r in results
        ],
        "secrets_delivered": sum(1 for r in results if r.secret_delivered),
        "sink": sink,
        "stopped": report.stopped if report is not None else "",
        "emergency_file": str(report.emergency_file) if report is not None and report.emergency_file else None,
    }


def _skipped_lines(report: ApplyReport) -> list[str]:
    """One line per reason changes were skipped: how many, and the first few addresses."""

    by_reason: dict[str, list[str]] = {}
    for result in report.results:
        if result.status == SKIPPED:
            by_reason.setdefault(result.message, []).append(result.change.address)
    lines = []
    for reason, addresses in by_reason.items():
        shown = ", ".join(addresses[:SHOWN_ADDRESSES])
        more = f" and {len(addresses) - SHOWN_ADDRESSES} more" if len(addresses) > SHOWN_ADDRESSES else ""
        lines.append(f"  skipped: {len(addresses)} change(s) ({reason}): {shown}{more}")
    return lines
