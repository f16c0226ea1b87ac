import pytest

from keyform.contract import Action, Change, Risk, RiskCategory
from keyform.errors import KeyformError
from keyform.plan.plan import ApplyOrder, Plan
from tests.fakes import FakeProvider


def test_order_roles_first_identities_next_role_deletes_after_identities_api_access_off_last():
    changes = [
        Change(Action.DELETE, "roles/old"),
        Change(Action.UPDATE, "organization", {"api_access": True}, {"api_access": False}),
        Change(Action.CREATE, "credentials/c", after={}),
        Change(Action.DELETE, "users/gone@x.example"),
        Change(Action.CREATE, "roles/new", after={}),
        Change(Action.UPDATE, "users/a@x.example", {}, {}),
        Change(Action.ROTATE, "users/a@x.example"),
    ]
    ordered = Plan.from_changes(changes, order=ApplyOrder.of(FakeProvider())).changes
    order = [(c.action.value, c.address) for c in ordered]
    assert order == [
        ("create", "roles/new"),
        ("update", "users/a@x.example"),
        ("rotate", "users/a@x.example"),
        ("create", "credentials/c"),
        ("delete", "users/gone@x.example"),
        ("delete", "roles/old"),
        ("update", "organization"),
    ]


def test_plan_round_trips_through_its_dict_form_with_summary():
    risk = Risk(RiskCategory.ESCALATION, "x gains employees:write")
    plan = Plan.from_changes(
        [Change(Action.UPDATE, "credentials/c", {"enabled": True}, {"enabled": False}, "id1", '"3"', risks=(risk,))],
        meta={"target": "http://h"},
    )
    data = plan.to_dict()
    assert data["format_version"] == "1"
    assert data["summary"]["update"] == 1 and data["summary"]["escalations"] == 1
    assert data["changes"][0]["changed"] == ["enabled"]
    assert Plan.from_dict(data) == plan


def test_plan_file_of_another_format_version_is_refused_by_name():
    with pytest.raises(KeyformError, match="plan file has format_version '0', this keyform reads '1'"):
        Plan.from_dict({"format_version": "0", "changes": []})
    with pytest.raises(KeyformError, match="plan file is damaged"):
        Plan.from_dict({"format_version": "1", "changes": [{"action": "explode", "address": "x"}]})
