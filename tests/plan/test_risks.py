from keyform.contract import Action, Change, RiskCategory
from keyform.plan.risks import Sides, assess
from keyform.providers.keyform import KeyformProvider
from keyform.providers.keyform.model import Role, User

READER = Role("reader", "", {"employees": ("read",)}, ("first_name",)).attributes_dict()
PAYROLL = Role("payroll", "", {"employees": ("read", "write")}, ("salary",)).attributes_dict()


PROVIDER = KeyformProvider({"url": "http://127.0.0.1:9", "token": "t"})  # never connects here


def risks_of(change, book=None, holders=None):
    [risks] = assess([change], PROVIDER, book or Sides({}, {}), holders or {})
    return [(r.category, r.message) for r in risks]


def user(**overrides):
    return {**User("a@x.example", "A", "B").attributes_dict(), **overrides}


def test_new_write_and_sensitive_attribute_are_escalations_but_read_is_not():
    before = {"integration": "", "enabled": True, "roles": [], "permissions": {"employees": ["read"]}, "attributes": []}
    after = {
        **before,
        "permissions": {"employees": ["read", "write"], "absences": ["read"]},
        "attributes": ["salary", "email"],
    }
    risks = risks_of(Change(Action.UPDATE, "credentials/sync", before, after))
    assert risks == [(RiskCategory.ESCALATION, "credentials/sync gains attribute:salary, employees:write")]


def test_attaching_a_role_resolves_what_the_role_grants():
    book = Sides({"roles/payroll": PAYROLL}, {"roles/payroll": PAYROLL})
    risks = risks_of(Change(Action.UPDATE, "users/a@x.example", user(), user(roles=["payroll"])), book)
    assert (RiskCategory.ESCALATION, "users/a@x.example gains attribute:salary, employees:write") in risks


def test_role_update_names_who_holds_the_role():
    after = {**READER, "permissions": {"employees": ["read", "write"]}}
    holders = {"roles/reader": ["users/a@x.example", "credentials/sync"]}
    risks = risks_of(Change(Action.UPDATE, "roles/reader", READER, after), holders=holders)
    assert risks == [
        (RiskCategory.ESCALATION, "roles/reader (held by 2: users/a@x.example, credentials/sync) gains employees:write")
    ]


def test_cognitive_access_org_role_raise_and_api_access_on_are_escalations():
    risks = risks_of(
        Change(Action.UPDATE, "users/a@x.example", user(), user(cognitive_access=True, role="account_admin"))
    )
    messages = [m for c, m in risks if c == RiskCategory.ESCALATION]
    assert "users/a@x.example is granted cognitive (sensitive assessment) access" in messages
    assert "users/a@x.example org role raised to account_admin" in messages
    org = risks_of(Change(Action.UPDATE, "organization", {"api_access": False}, {"api_access": True}))
    assert org[0][0] == RiskCategory.ESCALATION and "api_access switched on" in org[0][1]


def test_disable_delete_demote_lost_permission_and_key_rotation_are_breaking():
    disable = risks_of(
        Change(Action.UPDATE, "users/a@x.example", user(api_key_enabled=True), user(api_key_enabled=False))
    )
    assert disable == [(RiskCategory.BREAKING, "users/a@x.example API key disabled")]
    demote = risks_of(Change(Action.UPDATE, "users/a@x.example", user(role="account_owner"), user(role="standard")))
    assert demote == [(RiskCategory.BREAKING, "users/a@x.example org role lowered from account_owner to standard")]
    lose = risks_of(Change(Action.UPDATE, "roles/reader", READER, {**READER, "permissions": {}}))
    assert lose == [(RiskCategory.BREAKING, "roles/reader loses employees:read")]
    delete = risks_of(Change(Action.DELETE, "credentials/old", {"enabled": True}, None))
    assert delete == [(RiskCategory.BREAKING, "deletes credentials/old")]
    rotate = risks_of(Change(Action.ROTATE, "users/a@x.example", details={"phase": "immediate", "old_secret": "key_1"}))
    assert rotate == [
        (RiskCategory.BREAKING, "users/a@x.example: new API key deactivates the current key (key_1) at once")
    ]


def test_overlap_rotation_is_not_breaking_until_the_revoke():
    add = Change(Action.ROTATE, "credentials/sync", details={"phase": "add", "old_secret": "s1"})
    assert risks_of(add) == []
    revoke = Change(Action.ROTATE, "credentials/sync", details={"phase": "revoke", "old_secret": "s1"})
    assert risks_of(revoke) == [
        (RiskCategory.BREAKING, "credentials/sync: secret s1 stops working now (rotation overlap over)")
    ]


def test_creating_a_privileged_identity_is_an_escalation():
    risks = risks_of(Change(Action.CREATE, "users/b@x.example", None, user(role="account_admin", api_key_enabled=True)))
    messages = [m for c, m in risks if c == RiskCategory.ESCALATION]
    assert "users/b@x.example org role set to account_admin" in messages
    assert "users/b@x.example gets a new API key acting with its role account_admin" in messages


def test_an_email_with_a_cyrillic_letter_is_flagged_as_a_lookalike_in_every_format():
    import json

    from keyform.plan.build import make_plan
    from keyform.plan.render_json import render_json
    from keyform.plan.render_markdown import render_markdown
    from keyform.plan.render_text import render_text
    from tests.fakes import NOW, FakeProvider, state

    spoof = "\u043ewner@acme.example"  # a Cyrillic o, then "wner@acme.example"
    desired = state(users={spoof: User(spoof, "O", "W"), "jürgen@acme.example": User("jürgen@acme.example", "J", "M")})
    plan = make_plan(desired, FakeProvider({}), now=NOW).plan
    message = (
        f"users/{spoof}: email mixes scripts or lookalike characters (U+043E CYRILLIC SMALL LETTER O):"
        " it looks like owner@acme.example but is a different user"
    )
    text = render_text(plan, styled=False)
    assert f"! lookalike: {message}" in text
    assert "Risks: 1 lookalike identity(ies)" in text
    markdown = render_markdown(plan)
    assert f"#### Lookalike identities (1)\n- {message}\n" in markdown
    data = json.loads(render_json(plan))
    assert data["summary"]["lookalikes"] == 1
    risks = [risk for change in data["changes"] for risk in change["risks"]]
    assert risks == [{"category": "lookalike", "message": message}]  # jürgen (Latin ü) is not flagged


def test_a_lookalike_is_flagged_when_the_user_comes_in_not_on_every_update():
    spoof = "\u043ewner@acme.example"
    created = Change(Action.CREATE, f"users/{spoof}", None, user())
    updated = Change(Action.UPDATE, f"users/{spoof}", user(), user(job_title="CEO"))
    adopted = Change(Action.ADOPT, f"users/{spoof}", user(), user())
    assert [category for category, _ in risks_of(created)] == [RiskCategory.LOOKALIKE]
    assert [category for category, _ in risks_of(adopted)] == [RiskCategory.LOOKALIKE]
    assert risks_of(updated) == []
