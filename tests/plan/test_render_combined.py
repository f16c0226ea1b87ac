"""Many targets' plans as one pull-request comment: every summary first, under the size limit."""

from pathlib import Path

from keyform.contract import Action, Change
from keyform.plan.plan import Plan
from keyform.plan.render_combined import TargetPlan, render_combined, target_name
from keyform.plan.render_markdown import COMMENT_LIMIT


def plan(creates: int, target: str) -> Plan:
    changes = [
        Change(Action.CREATE, f"credentials/c{i:04}", after={"integration": "x" * 40, "roles": ["reader"]})
        for i in range(creates)
    ]
    return Plan.from_changes(changes, meta={"target": target})


def target(name: str, creates: int) -> TargetPlan:
    return TargetPlan(name=name, path=Path(f"plans/plan-{name}.json"), plan=plan(creates, f"https://{name}.example"))


def test_small_plans_are_shown_whole_after_a_summary_row_each():
    text = render_combined([target("payments", 2), target("search", 0)])
    assert text.startswith("### keyform plan for 2 targets (1 with changes)\n")
    assert "| `payments` | https://payments.example | 2 |" in text
    assert text.rstrip().splitlines()[5].endswith("| no changes |")  # search's row
    assert text.index("| `search`") < text.index("<details open><summary>payments: Plan: 2 to create")
    assert "<details><summary>search: Plan: 0 to create" in text  # nothing to review: folded
    assert "credentials/c0001" in text
    assert "does not fit" not in text and "Truncated" not in text


def test_huge_plans_share_the_comment_and_every_cut_names_its_plan_file():
    plans = [target("big-1", 3000), target("small", 3), target("big-2", 3000), target("big-3", 3000)]
    text = render_combined(plans)
    assert len(text) < COMMENT_LIMIT
    for item in plans:
        assert f"| `{item.name}` |" in text  # every summary row, whatever was cut
    assert "credentials/c0002" in text.split("small: Plan:", 1)[1].split("</details>", 1)[0]  # the small one whole
    for name in ("big-1", "big-2", "big-3"):
        section = text.split(f"{name}: Plan: 3000 to create", 1)[1].split("<details open><summary>", 1)[0]
        assert "_Truncated: " in section
        assert f"The full plan is in `plans/plan-{name}.json`" in text
    assert text.count("<details") == text.count("</details>")


def test_a_review_that_cannot_fit_is_replaced_by_a_note_naming_its_file():
    plans = [target(f"t{i:02}", 300) for i in range(40)]
    text = render_combined(plans)
    assert len(text) < COMMENT_LIMIT
    for item in plans:
        assert f"| `{item.name}` |" in text
        assert f"`plans/plan-{item.name}.json`" in text
    assert "_Its review does not fit in this comment. The full plan is in `plans/plan-t00.json`" in text


def test_a_targets_name_comes_from_its_plan_file():
    assert target_name(Path("out/plan-teams--payments.json")) == "teams/payments"
    assert target_name(Path("hr.json")) == "hr"
