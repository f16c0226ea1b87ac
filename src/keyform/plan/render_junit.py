"""Drift as JUnit XML for CI dashboards: one test case per resource checked, failing when it drifted."""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree as ET

from keyform.contract import Change
from keyform.plan.plan import Plan
from keyform.plan.render import View
from keyform.plan.values import attribute_rows


def render_junit(plan: Plan, addresses: Iterable[str]) -> str:
    """`addresses`: every resource the plan compared (declared ones and managed live ones)."""
    changes: dict[str, list[Change]] = {}
    for change in plan.changes:
        changes.setdefault(change.address, []).append(change)
    checked = sorted(set(addresses) | set(changes) | set(plan.unmanaged))
    suite = ET.Element("testsuite", name="keyform drift", tests=str(len(checked)))
    failures = 0
    for address in checked:
        case = ET.SubElement(suite, "testcase", classname=f"keyform.{address.split('/', 1)[0]}", name=address)
        if address in plan.unmanaged:
            ET.SubElement(case, "skipped", message="live, not managed by keyform")
            continue
        found = changes.get(address)
        if not found:
            continue
        failures += 1
        summary = "; ".join(f"{c.action.value}{f': {c.reason}' if c.reason else ''}" for c in found)
        body = [
            f"{name}: {before} -> {after}" if before is not None else f"{name}: {after}"
            for change in found
            for name, before, after in attribute_rows(change)
        ]
        body += [f"{risk.category.value}: {risk.message}" for change in found for risk in change.risks]
        failure = ET.SubElement(case, "failure", message=f"drift: {summary}", type="drift")
        failure.text = "\n".join(body)
    suite.set("failures", str(failures))
    suite.set("skipped", str(len(plan.unmanaged)))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode")


def junit(plan: Plan, view: View) -> str:
    """The `junit` format as a renderer (`keyform.plan.render.RENDERERS`)."""
    return render_junit(plan, view.checked)
