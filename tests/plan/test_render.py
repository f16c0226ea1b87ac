import json
import re

import click

from keyform.contract import Action, Change, Risk, RiskCategory
from keyform.plan.plan import Plan
from keyform.plan.render_json import render_json
from keyform.plan.render_markdown import render_markdown
from keyform.plan.render_text import render_text

ESCALATE = Risk(RiskCategory.ESCALATION, "credentials/sync gains employees:write")
BREAK = Risk(RiskCategory.BREAKING, "deletes credentials/old")


def sample():
    return Plan.from_changes(
        [
            Change(
                Action.CREATE, "roles/reader", after={"description": "Reads", "permissions": {"employees": ["read"]}}
            ),
            Change(
                Action.UPDATE,
                "credentials/sync",
                {"permissions": {"employees": ["read"]}},
                {"permissions": {"employees": ["read", "write"]}},
                risks=(ESCALATE,),
            ),
            Change(
                Action.DELETE,
                "credentials/old",
                {"enabled": True},
                reason="removed from the desired state",
                risks=(BREAK,),
            ),
            Change(Action.ROTATE, "users/a@x.example", reason="forced by --replace"),
        ],
        meta={"target": "http://127.0.0.1:1"},
    )


def test_text_lists_symbols_attribute_diffs_risks_and_summary():
    text = click.unstyle(render_text(sample()))
    assert "(create: " not in text  # a create needs no reason
    assert "  + roles/reader  (create)" in text
    assert '      description  "Reads"' in text
    assert "  ~ credentials/sync  (update)" in text
    assert "      permissions  employees: read -> employees: read, write" in text
    assert "      ! escalation: credentials/sync gains employees:write" in text
    assert "  - credentials/old  (delete: removed from the desired state)" in text
    assert "  ± users/a@x.example  (rotate: forced by --replace)" in text
    assert text.rstrip().endswith(
        "Plan: 1 to create, 1 to update, 1 to delete, 1 to rotate. Risks: 1 escalation(s), 1 breaking change(s)."
    )


def test_text_of_empty_plan_says_no_changes():
    assert "No changes." in render_text(Plan.from_changes([]))


def test_markdown_puts_who_gains_what_before_the_details():
    text = render_markdown(sample())
    gains = text.index("#### Who gains access (1)\n- credentials/sync gains employees:write")
    assert gains < text.index("#### What stops working (1)") < text.index("<details>")
    assert "| permissions | employees: read | employees: read, write |" in text
    assert "| delete | 1 |" in text


def test_markdown_escapes_pipes_in_values():
    change = Change(Action.UPDATE, "users/a@x.example", {"job_title": "a"}, {"job_title": "x | y"})
    assert '| job_title | "a" | "x \\| y" |' in render_markdown(Plan.from_changes([change]))


def test_json_has_documented_shape():
    data = json.loads(render_json(sample()))
    assert data["format_version"] == "1"
    assert set(data["changes"][0]) >= {"address", "action", "before", "after", "risks"}
    assert data["summary"]["delete"] == 1
    by_address = {change["address"]: change for change in data["changes"]}
    assert by_address["credentials/sync"]["risks"] == [
        {"category": "escalation", "message": "credentials/sync gains employees:write"}
    ]


def test_junit_has_one_case_per_resource_failing_only_for_drift():
    from xml.etree import ElementTree as ET

    from keyform.plan.render_junit import render_junit

    plan = Plan.from_changes(
        [Change(Action.UPDATE, "credentials/sync", {"enabled": True}, {"enabled": False}, risks=(BREAK,))],
        ["users/manual@x.example"],
    )
    suite = ET.fromstring(render_junit(plan, ["credentials/sync", "roles/reader"]))
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite}
    failure = cases["credentials/sync"].find("failure")
    assert failure.get("message") == "drift: update"
    assert failure.text.splitlines() == ["enabled: true -> false", "breaking: deletes credentials/old"]
    assert list(cases["roles/reader"]) == []
    assert cases["users/manual@x.example"].find("skipped") is not None


def test_markdown_of_a_huge_plan_fits_a_pull_request_comment_and_says_what_was_cut():
    from keyform.plan.render_markdown import COMMENT_LIMIT

    changes = [
        Change(
            Action.CREATE,
            f"credentials/c{i:04}",
            after={"integration": "x" * 40, "permissions": {"employees": ["read"]}},
        )
        for i in range(3000)
    ]
    changes[0] = changes[0]._replace(risks=(ESCALATE,))
    text = render_markdown(Plan.from_changes(changes))
    assert len(text) < COMMENT_LIMIT
    assert text.index("**Plan: 3000 to create") < text.index("#### Who gains access") < text.index("<details>")
    shown = text.count("(create)")
    assert 100 < shown < 3000
    assert text.count("<details>") == text.count("</details>")
    assert f"_Truncated: {3000 - shown} of 3000 changes are not shown" in text
    assert "`keyform show PLANFILE`" in text
    small = render_markdown(sample())
    assert "Truncated" not in small


def test_values_of_any_shape_render_in_every_format_without_failing():
    # Providers declare their own attribute shapes: tags as a mapping of strings, documents as
    # nested data, lists of mappings. Every renderer shows them; none may fail on them.
    change = Change(
        Action.UPDATE,
        "policies/ci",
        {"tags": {"team": "a"}, "document": {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*"]}]}},
        {"tags": {"team": "b"}, "document": {"Statement": [{"Effect": "Allow", "Action": ["s3:*"]}]}},
    )
    plan = Plan.from_changes([change])
    text = render_text(plan, styled=False)
    assert re.search(r'tags +\{"team": "a"\} -> \{"team": "b"\}', text)
    assert '"Action": ["s3:*"]' in text
    assert '"Action": ["s3:*"]' in render_markdown(plan)
    assert json.loads(render_json(plan))["changes"][0]["after"]["tags"] == {"team": "b"}
