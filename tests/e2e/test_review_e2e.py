"""Issue 21 end to end: the realistic organisation against the real server, through the real
`keyform` command: who gains what in JSON and Markdown, and unmanaged privileged access as drift."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Org
from tests.fixtures.review_org import RITA, change, write_org

SHADOW = {
    "name": "shadow-it",
    "integration": "someone's script",
    "permissions": {"employees": ["read", "write"]},
    "attributes": ["salary", "iban"],
}


@pytest.fixture
def review_org(tmp_path, monkeypatch):
    from keyform.server import running_server

    workdir = tmp_path / "org"
    write_org(workdir)
    with running_server(tmp_path / "credentials.db", init_owner="owner@acme.example") as server:
        monkeypatch.setenv("KEYFORM_URL", server.url)
        monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
        org = Org(server.url, server.owner_token, workdir)
        assert org.keyform("apply", "--auto-approve").exit_code == 0
        client = org.api()
        try:
            client.request("POST", "/v1/credentials", what="shadow-it", json=SHADOW)
        finally:
            client.close()
        yield org


def test_unmanaged_privileged_credential_is_shown_and_is_drift_when_nothing_else_changes(review_org):
    result = review_org.keyform("plan", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert "No changes. The live state matches the desired state." in result.stdout
    assert (
        "  ? credentials/shadow-it  (live, not managed by keyform; safety.unmanaged: report)\n"
        "      holds  attribute:iban [sensitive], attribute:salary [sensitive], employees:read,"
        " employees:write [sensitive]\n"
        "      counts as drift (safety.unmanaged_is_drift)\n"
    ) in result.stdout
    markdown = review_org.keyform("plan", "--format", "markdown").stdout
    assert "- Unmanaged with privileged access (1):" in markdown
    assert "  - `credentials/shadow-it` holds **attribute:iban** (sensitive)" in markdown
    write_org(review_org.workdir, unmanaged_is_drift=False)
    quiet = review_org.keyform("plan", "--detailed-exitcode")
    assert quiet.exit_code == 0, quiet.output
    assert "counts as drift" not in quiet.stdout and "holds  attribute:iban [sensitive]" in quiet.stdout


def test_the_pull_request_lists_every_identity_that_gains_or_loses_access(review_org):
    change(review_org.workdir)
    result = review_org.keyform("plan", "--format", "json", "--replace", "credentials/payroll-sync")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    access = plan["effective_access"]
    gains = {address: [g["grant"] for g in entry["gains"]] for address, entry in access.items() if entry["gains"]}
    assert gains == {
        "credentials/datev-payroll": ["absences:read", "attribute:email", "attribute:salary"],
        "credentials/expense-bridge": ["absences:read", "attribute:salary"],
        "credentials/lohn-export": ["absences:read", "attribute:email", "attribute:salary"],
        "credentials/payroll-sync": ["absences:read", "attribute:email", "attribute:salary"],
        "credentials/pension-feed": ["absences:read", "attribute:email"],
        "users/fritz.fischer@acme.example": ["absences:read", "attribute:salary"],
        "users/greta.gross@acme.example": ["absences:read", "attribute:email", "attribute:salary"],
        "users/paula.peters@acme.example": ["absences:read", "attribute:email", "attribute:salary"],
    }
    losses = {address: [g["grant"] for g in entry["losses"]] for address, entry in access.items() if entry["losses"]}
    assert losses == {
        "credentials/legacy-export": [
            "attribute:first_name",
            "attribute:iban",
            "attribute:last_name",
            "employees:read",
        ],
        "credentials/old-bi": ["attribute:department", "custom_reports:read"],
    }
    key = review_org.find("users", RITA)["api_key"]["id"]
    assert plan["review"]["escalations"][f"users/{RITA}"] == [
        "org role raised to account_admin",
        f"its active API key {key} now acts as account_admin",
    ]
    [rotation] = [item for item in plan["review"]["breaking"] if item["address"] == "credentials/payroll-sync"]
    assert rotation["when"].endswith("Z")  # the 24h overlap's end, as a time
    assert plan["unmanaged_access"]["credentials/shadow-it"]["privileged"] is True

    markdown = review_org.keyform("plan", "--format", "markdown", "--replace", "credentials/payroll-sync").stdout
    assert markdown.index("**Review**") < markdown.index("#### Who gains access")
    assert "#### Effective access (10 identities: 8 gain, 2 lose)" in markdown
    for address in access:
        assert f"| `{address}` |" in markdown
    assert f"  - `users/{RITA}`: org role raised to account_admin; its active API key {key} now acts as" in markdown
    assert "Old secret: " in markdown and "(1d overlap), then the next apply revokes it" in markdown
    assert review_org.keyform("apply", "--auto-approve").exit_code == 0
    review_org.assert_no_secret_leaked()
