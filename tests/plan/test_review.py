"""Issue 21, "a complete who gains what": with a realistic organisation (29 users, 10 roles, 20
credentials in 9 files) and a realistic pull request, every format lists every identity whose
access changes, with each gain and loss, and the review summary fits the first screen."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
import pytest

from keyform.config.load import load_desired_state
from keyform.contract import Action, Change, LiveResource, SecretInfo
from keyform.plan.build import make_plan
from keyform.plan.plan import Plan
from keyform.plan.render_json import render_json
from keyform.plan.render_markdown import render_markdown
from keyform.plan.render_text import render_text
from tests.fakes import NOW, FakeProvider
from tests.fixtures.review_org import PAYROLL_CREDENTIALS, PAYROLL_USERS, RITA, change, counts, write_org

ENV = {"KEYFORM_URL": "http://127.0.0.1:9", "KEYFORM_TOKEN": "t"}
SHADOW = "credentials/shadow-it"
S, E, A = ("attribute:salary", True), ("attribute:email", False), ("absences:read", False)
# what each holder of roles/payroll gains when the role gains salary, email and absences:read:
# fritz (directory) and expense-bridge (its own) already see email, pension-feed (finance) salary
GAINS = {
    "credentials/datev-payroll": [A, E, S],
    "credentials/expense-bridge": [A, S],
    "credentials/lohn-export": [A, E, S],
    "credentials/payroll-sync": [A, E, S],
    "credentials/pension-feed": [A, E],
    "users/fritz.fischer@acme.example": [A, S],
    "users/greta.gross@acme.example": [A, E, S],
    "users/paula.peters@acme.example": [A, E, S],
}
LOSSES = {
    "credentials/legacy-export": [
        ("attribute:first_name", False),
        ("attribute:iban", True),
        ("attribute:last_name", False),
        ("employees:read", False),
    ],
    "credentials/old-bi": [("attribute:department", False), ("custom_reports:read", False)],
}


def _live(state) -> dict[str, LiveResource]:
    """The organisation as applied: every resource managed; credentials and rita hold a secret."""
    live = {}
    for address, attributes in state.resource_map.items():
        name = address.split("/", 1)[-1]
        secrets = ()
        if address.startswith("credentials/"):
            secrets = (SecretInfo(f"sec-{name}", NOW - timedelta(days=10)),)
        elif address == f"users/{RITA}":
            secrets = (SecretInfo("key-rita", NOW - timedelta(days=10)),)
        live[address] = LiveResource(address, dict(attributes), f"id-{name}", '"1"', True, secrets)
    shadow = {
        "integration": "",
        "enabled": True,
        "roles": [],
        "permissions": {"employees": ["read", "write"]},
        "attributes": ["iban", "salary"],
    }
    live[SHADOW] = LiveResource(SHADOW, shadow, "id-shadow", '"1"', False, (SecretInfo("sec-shadow", NOW),))
    return live


@pytest.fixture
def org(tmp_path: Path) -> tuple[Path, dict[str, LiveResource]]:
    write_org(tmp_path)
    return tmp_path, _live(load_desired_state(tmp_path / "keyform.yaml", environ=ENV))


def _plan(workdir: Path, live: dict[str, LiveResource], **options) -> Plan:
    state = load_desired_state(workdir / "keyform.yaml", environ=ENV)
    return make_plan(state, FakeProvider(live), now=NOW, **options).plan


@pytest.fixture
def reviewed(org) -> Plan:
    workdir, live = org
    change(workdir)
    return _plan(workdir, live, replace=["credentials/payroll-sync"])


def test_the_organisation_is_as_large_as_the_issues(org):
    workdir, live = org
    assert counts() == (29, 10, 20)
    assert len(list(workdir.rglob("*.yaml"))) == 9
    assert sum(1 for address in live if address.startswith("credentials/")) == 21  # and the unmanaged one
    assert len(PAYROLL_CREDENTIALS) == 5 and len(PAYROLL_USERS) == 3


def test_json_lists_every_identity_with_each_gain_and_loss_and_where_it_comes_from(reviewed):
    data = json.loads(render_json(reviewed))
    access = data["effective_access"]
    assert sorted(access) == sorted([*GAINS, *LOSSES])
    for address, gains in GAINS.items():
        assert [(g["grant"], g["sensitive"]) for g in access[address]["gains"]] == gains, address
        assert all(g["through"] == ["roles/payroll"] for g in access[address]["gains"])
        assert (access[address]["losses"], access[address]["change"]) == ([], None)
    for address, losses in LOSSES.items():
        assert [(g["grant"], g["sensitive"]) for g in access[address]["losses"]] == losses, address
        assert all(g["through"] == [address] for g in access[address]["losses"])
        assert (access[address]["gains"], access[address]["change"]) == ([], "delete")
    assert access["credentials/datev-payroll"]["live_secret"] == "sec-datev-payroll"
    assert access["users/paula.peters@acme.example"]["live_secret"] is None


def test_json_review_block_groups_escalations_by_identity_with_breaking_times_and_unmanaged(reviewed):
    review = json.loads(render_json(reviewed))["review"]
    assert (review["identities_gaining"], review["identities_losing"]) == (8, 2)
    assert review["escalations"][f"users/{RITA}"] == [
        "org role raised to account_admin",
        "its active API key key-rita now acts as account_admin",
    ]
    salary = [address for address, gains in GAINS.items() if S in gains]
    for address in salary:
        assert review["escalations"][address] == ["gains attribute:salary via roles/payroll"]
    assert "credentials/pension-feed" not in review["escalations"]  # email and absences:read: not sensitive
    assert review["breaking"] == [
        {
            "address": "credentials/payroll-sync",
            "message": "credentials/payroll-sync: the current secret (sec-payroll-sync) stops working at the"
            " overlap's end",
            "when": "2026-11-02T00:00:00Z",
        },
        {
            "address": "credentials/legacy-export",
            "message": "deletes credentials/legacy-export (it held attribute:first_name, attribute:iban,"
            " attribute:last_name, employees:read)",
            "when": "at apply",
        },
        {
            "address": "credentials/old-bi",
            "message": "deletes credentials/old-bi (it held attribute:department, custom_reports:read)",
            "when": "at apply",
        },
    ]
    assert (review["unmanaged_privileged"], review["drift"]) == ([SHADOW], True)


def test_markdown_opens_with_the_review_and_lists_every_identity(reviewed):
    markdown = render_markdown(reviewed)
    head = markdown[: markdown.index("#### Who gains access")]
    assert "- Access: 8 identities gain, 2 identities lose (every one under Effective access)" in head
    assert f"  - `users/{RITA}`: org role raised to account_admin; its active API key key-rita now acts as" in head
    assert "- Stops working (3):" in head
    assert "stops working at the overlap's end — **2026-11-02T00:00:00Z**" in head
    assert "(it held attribute:department, custom_reports:read) — **at apply**" in head
    assert (
        "  - `credentials/shadow-it` holds **attribute:iban** (sensitive), **attribute:salary** (sensitive),"
        " employees:read, **employees:write** (sensitive) — counts as drift"
    ) in head
    assert len(head.splitlines()) < 30  # a pull request's first screen
    assert "#### Effective access (10 identities: 8 gain, 2 lose)" in markdown
    assert (
        "| `credentials/pension-feed` | live secret `sec-pension-feed` gains it at once |"
        " absences:read, attribute:email via `roles/payroll` |  |"
    ) in markdown
    assert (
        "| `users/greta.gross@acme.example` |  | absences:read, attribute:email, **attribute:salary** (sensitive)"
        " via `roles/payroll` |  |"
    ) in markdown
    assert (
        "| `credentials/old-bi` | delete |  | attribute:department, custom_reports:read via `credentials/old-bi` |"
    ) in markdown
    for address in [*GAINS, *LOSSES]:
        assert f"| `{address}` |" in markdown
    assert (
        "Old secret: sec-payroll-sync keeps working until about 2026-11-02T00:00:00Z (1d overlap),"
        " then the next apply revokes it"
    ) in markdown


def test_text_lists_every_gain_and_loss_the_old_secrets_end_and_the_unmanaged_holdings(reviewed):
    text = click.unstyle(render_text(reviewed))
    assert (
        "      old secret  sec-payroll-sync keeps working until about 2026-11-02T00:00:00Z (1d overlap),"
        " then the next apply revokes it"
    ) in text
    assert f"      ! escalation: users/{RITA}: its active API key key-rita now acts as account_admin" in text
    assert "Effective access (10 identities):" in text
    block = text[text.index("Effective access") :]
    assert (
        "  credentials/expense-bridge  (live secret sec-expense-bridge gains it at once)\n"
        "      + absences:read  via roles/payroll\n"
        "      + attribute:salary [sensitive]  via roles/payroll\n"
    ) in block
    assert (
        "  credentials/legacy-export  (delete)\n"
        "      - attribute:first_name  via credentials/legacy-export\n"
        "      - attribute:iban [sensitive]  via credentials/legacy-export\n"
    ) in block
    for address, gains in GAINS.items():
        assert f"\n  {address}" in block
        for grant, sensitive in gains:
            assert f"      + {grant}{' [sensitive]' if sensitive else ''}  via roles/payroll" in block
    assert (
        "  ? credentials/shadow-it  (live, not managed by keyform; safety.unmanaged: report)\n"
        "      holds  attribute:iban [sensitive], attribute:salary [sensitive], employees:read,"
        " employees:write [sensitive]\n"
        "      counts as drift (safety.unmanaged_is_drift)"
    ) in text


def test_a_plan_file_keeps_the_effective_access_and_an_old_plan_file_still_loads(reviewed):
    data = json.loads(render_json(reviewed))
    again = Plan.from_dict(data)
    assert (again.access, again.unmanaged_access, again.drift) == (
        reviewed.access,
        reviewed.unmanaged_access,
        reviewed.drift,
    )
    assert render_markdown(again) == render_markdown(reviewed)
    old = {key: data[key] for key in ("format_version", "meta", "summary", "changes", "unmanaged")}
    loaded = Plan.from_dict(old)
    assert (loaded.access, loaded.drift, len(loaded.changes)) == ((), (), len(reviewed.changes))
    assert "#### Who gains access" in render_markdown(loaded)


def test_unmanaged_privileged_access_is_shown_and_is_drift_when_nothing_else_changes(org):
    workdir, live = org
    plan = _plan(workdir, live)
    assert plan.empty and plan.drifted and plan.drift == (SHADOW,)
    markdown = render_markdown(plan)
    assert "No changes. The live state matches the desired state." in markdown
    assert "- Unmanaged with privileged access (1):" in markdown
    assert "- `credentials/shadow-it` holds **attribute:iban** (sensitive)" in markdown
    assert "      holds  attribute:iban [sensitive]" in click.unstyle(render_text(plan))
    found = json.loads(render_json(plan))["unmanaged_access"][SHADOW]
    assert found == {
        "holds": [
            {"grant": "attribute:iban", "sensitive": True},
            {"grant": "attribute:salary", "sensitive": True},
            {"grant": "employees:read", "sensitive": False},
            {"grant": "employees:write", "sensitive": True},
        ],
        "privileged": True,
        "drift": True,
    }


@pytest.mark.parametrize(
    ("setting", "drift"),
    [(False, ()), ("privileged", (SHADOW,)), (True, (SHADOW, "roles/stray"))],
)
def test_what_counts_as_drift_follows_the_setting(tmp_path, setting, drift):
    write_org(tmp_path, unmanaged_is_drift=setting)
    live = _live(load_desired_state(tmp_path / "keyform.yaml", environ=ENV))
    live["roles/stray"] = LiveResource("roles/stray", {"description": "", "permissions": {}, "attributes": []})
    harmless = {"integration": "", "enabled": True, "roles": [], "permissions": {}, "attributes": ["email"]}
    live["credentials/harmless"] = LiveResource("credentials/harmless", harmless)
    plan = _plan(tmp_path, live)
    expected = tuple(sorted([*drift, "credentials/harmless"])) if setting is True else drift
    assert (plan.drift, plan.drifted) == (expected, bool(drift))


def test_a_promotion_without_a_live_key_says_nothing_about_a_key(org):
    workdir, live = org
    rita = live[f"users/{RITA}"]
    live[f"users/{RITA}"] = rita._replace(secrets=())
    change(workdir)
    plan = _plan(workdir, live)
    [promotion] = [c for c in plan.changes if c.address == f"users/{RITA}"]
    assert [r.message for r in promotion.risks] == [f"users/{RITA} org role raised to account_admin"]


def test_an_identity_that_takes_up_a_role_gains_through_its_own_change():
    live = {
        "roles/payroll": LiveResource("roles/payroll", {"permissions": {"employees": ["read"]}, "attributes": []}),
    }
    provider = FakeProvider(live)
    after = {"integration": "", "enabled": True, "roles": ["payroll"], "permissions": {}, "attributes": ["salary"]}
    plan = Plan.from_changes([Change(Action.CREATE, "credentials/new", after=after)])
    from keyform.plan.access import effective_access

    [access] = effective_access(plan.changes, live, provider.kinds, provider.sensitive)
    assert [(g.grant, g.sensitive, g.through) for g in access.gains] == [
        ("attribute:salary", True, ("credentials/new",)),
        ("employees:read", False, ("credentials/new",)),
    ]
