"""How attribute values read in plans: compact, stable, the same in every format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keyform.contract import Action, Change


def format_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        if all(isinstance(item, str) for item in value):
            return ", ".join(value) or "(none)"
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, Mapping):  # last of the containers: the abstract check is the slow one
        if all(isinstance(items, list | tuple) and all(isinstance(i, str) for i in items) for items in value.values()):
            return "; ".join(f"{key}: {', '.join(items)}" for key, items in value.items()) or "(none)"
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)  # any other shape, as data
    return json.dumps(value, ensure_ascii=False, default=str)


# a new resource's empty values (but `enabled`) are left out
_NOT_SHOWN_ON_CREATE: tuple[object, ...] = (None, "", [], {}, False)


def attribute_rows(change: Change) -> list[tuple[str, str | None, str | None]]:
    """(field, before, after) for the fields a reviewer should see; None means 'not shown'."""
    before, after = change.before or {}, change.after or {}
    if change.action == Action.CREATE:
        return [(k, None, format_value(v)) for k, v in after.items() if v not in _NOT_SHOWN_ON_CREATE or k == "enabled"]
    if change.action == Action.DELETE:
        return []
    if change.action == Action.ROTATE:
        return []
    return [(k, format_value(before.get(k)), format_value(after.get(k))) for k in change.changed_fields()]


def summary_line(summary: Mapping[str, int]) -> str:
    parts = [f"{summary['create']} to create", f"{summary['update']} to update", f"{summary['delete']} to delete"]
    for key, word in (
        ("rotate", "to rotate"),
        ("replace", "to replace"),
        ("adopt", "to adopt"),
        ("forget", "to forget"),
    ):
        if summary[key]:
            parts.append(f"{summary[key]} {word}")
    text = "Plan: " + ", ".join(parts) + "."
    risks = [
        f"{summary[k]} {w}"
        for k, w in (
            ("lookalikes", "lookalike identity(ies)"),
            ("escalations", "escalation(s)"),
            ("breaking", "breaking change(s)"),
        )
        if summary.get(k)
    ]
    return text + (" Risks: " + ", ".join(risks) + "." if risks else "")


AT_ONCE = "at once"


def old_secret_stops(change: Change) -> str | None:
    """When a rotation's old secret stops working: "at once", or the end of its overlap (a UTC
    time, about: the overlap starts when the change is applied); None if it is not a rotation."""
    if change.action != Action.ROTATE:
        return None
    details = change.details
    if details.get("phase") == "add":
        return str(details.get("old_secret_until") or f"{details.get('overlap', 'its overlap')} after apply")
    return AT_ONCE


def rotation_note(change: Change) -> str | None:
    """A rotation's old secret and when it stops working, in words, or None."""
    stops = old_secret_stops(change)
    if stops is None:
        return None
    details = change.details
    old = details.get("old_secret") or ", ".join(details.get("old_secrets", ())) or "the current secret"
    if details.get("phase") == "add":
        overlap = details.get("overlap", "the overlap")
        return f"{old} keeps working until about {stops} ({overlap} overlap), then the next apply revokes it"
    if details.get("phase") == "revoke":
        return f"{old} stops working {AT_ONCE} (its overlap is over)"
    return f"{old} stops working {AT_ONCE}"
