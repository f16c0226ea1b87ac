"""The pull-request flow, locally against the real server: validate, plan markdown, apply the saved plan, drift."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET


def test_pull_request_merge_and_scheduled_drift_flow(org, tmp_path):
    validate = org.keyform("validate", "--no-env")
    assert validate.exit_code == 0, validate.output
    planfile = tmp_path / "plan.json"
    review = org.keyform("plan", "--format", "markdown", "--out", str(planfile))
    assert review.exit_code == 0, review.output
    comment = review.stdout
    assert comment.startswith("### keyform plan for ")
    head = comment.split("<details>")[0]  # what a reviewer sees before expanding anything
    assert (
        "#### Who gains access" in head and "credentials/payroll-sync gains attendances:write, attribute:salary" in head
    )
    assert json.loads(planfile.read_text())["summary"]["create"] == 12
    merged = org.keyform("apply", str(planfile))
    assert merged.exit_code == 0, merged.output
    assert "Apply complete: 13 applied, 0 failed, 0 stale, 0 skipped." in merged.stdout
    nightly = org.keyform("plan", "--detailed-exitcode")
    assert nightly.exit_code == 0, nightly.output
    org.patch("users", "hanna.schmidt@acme.example", {"job_title": "Head of HR"})
    drift = org.keyform("plan", "--detailed-exitcode", "--format", "junit")
    assert drift.exit_code == 2
    suite = ET.fromstring(drift.stdout)
    failing = [case.get("name") for case in suite if case.find("failure") is not None]
    assert failing == ["users/hanna.schmidt@acme.example"]
    assert int(suite.get("tests")) == 14  # every declared resource is a test case
    org.assert_no_secret_leaked(planfile)
