"""keyform plan for the manual providers: the differences from keyform's record as a checklist
for the vendor's UI, in text and Markdown, for creates, updates, rotations and deletes."""

from __future__ import annotations

from pathlib import Path

from tests.providers.vendors.helpers import project, run

PERSONIO = """\
version: 1
provider: {type: personio}
credentials:
  payroll:
    permissions:
      employees: [read, write]
    attributes: [first_name, salary]
  fresh:
    integration: Slack
    permissions:
      employees: [read]
    attributes: [first_name]
  rotating:
    permissions:
      absences: [read]
    rotate_after: 30d
    rotation_overlap: 7d
"""
OLD = "2020-01-01T00:00:00Z"


def credential(permissions: dict[str, list[str]], attributes: list[str], secret: str) -> dict[str, object]:
    return {
        "attributes": {"integration": "", "enabled": True, "permissions": permissions, "attributes": attributes},
        "secrets": [{"id": secret, "created_at": OLD}],
    }


PERSONIO_RECORD = {
    "credentials/payroll": credential({"employees": ["read"], "absences": ["read"]}, ["first_name", "iban"], "cid-p"),
    "credentials/rotating": credential({"absences": ["read"]}, [], "cid-r"),
    "credentials/retired": credential({"employees": ["read"]}, [], "cid-old"),
}


def test_personio_plan_renders_each_change_as_steps_in_text(tmp_path: Path) -> None:
    result = run(project(tmp_path, PERSONIO, record=PERSONIO_RECORD), "plan")
    out = result.output

    assert result.exit_code == 0, out
    # create
    assert '1. In Personio, open Settings > API credentials and click "Generate new credentials".' in out
    assert (
        "Permissions (boxes at the bottom of the drawer): tick employees Read; leave every other box unticked." in out
    )
    assert (
        "Copy the client ID and the client secret now with the Copy buttons in the drawer: the secret is shown once"
        in out
    )
    assert "Then enter the client id and client secret when keyform asks (hidden input)." in out
    # update
    assert 'open Settings > API credentials and click "payroll" to open its drawer.' in out
    assert "Permissions: tick employees Write; untick absences Read." in out
    assert "Employee attributes: select salary; deselect iban." in out
    # rotation (overlap: a second pair now, the old one deleted later)
    assert 'Name: "rotating (new)"' in out
    assert "Keep the old pair (cid-r) for 1w: keyform plans its deletion afterwards." in out
    # delete
    assert 'click "retired" and delete the credentials.' in out
    assert "WARNING: every integration using retired's client ID stops working at once" in out


def test_personio_plan_renders_a_markdown_task_list(tmp_path: Path) -> None:
    result = run(project(tmp_path, PERSONIO, record=PERSONIO_RECORD), "plan", "--format", "markdown")
    out = result.output

    assert "#### Manual checklist (" in out
    assert "**`credentials/payroll`** (update)" in out
    assert "- [ ] Permissions: tick employees Write; untick absences Read." in out
    assert "**`credentials/retired`** (delete)" in out
    assert "  **Warning:** every integration using retired's client ID stops working at once" in out


PI = """\
version: 1
provider: {type: predictive-index}
organization: {api_access: true}
users:
  data.manager@acme.example:
    first_name: Data
    last_name: Manager
    role: account_admin
    cognitive_access: true
    api_key: {rotate_after: 30d}
  new@acme.example:
    first_name: New
    last_name: Person
    role: account_owner
"""
PI_RECORD = {
    "organization": {"attributes": {"api_access": True}, "secrets": []},
    "users/data.manager@acme.example": {
        "attributes": {
            "first_name": "Data",
            "last_name": "Manager",
            "role": "account_admin",
            "job_title": "",
            "default_folder": "",
            "cognitive_access": False,
            "archived": False,
            "api_key_enabled": True,
        },
        "secrets": [{"id": "k-1", "created_at": OLD}],
    },
    "users/old@acme.example": {
        "attributes": {
            "first_name": "Old",
            "last_name": "User",
            "role": "standard",
            "job_title": "",
            "default_folder": "",
            "cognitive_access": False,
            "archived": False,
        },
        "secrets": [],
    },
}


def test_pi_plan_marks_account_owner_steps_and_warns_that_a_new_key_ends_the_old_one(tmp_path: Path) -> None:
    directory = project(tmp_path, PI, record=PI_RECORD, provider="predictive-index")
    text = run(directory, "plan").output
    markdown = run(directory, "plan", "--format", "markdown").output

    # update: cognitive access is an Account Owner's step
    assert "[Account Owner only] Open the user and tick the Cognitive access checkbox" in text
    # rotation: the old key dies at once
    assert 'click "Generate New Key" and copy the new key now' in text
    assert "WARNING: this deactivates the previous key at once: update every integration that uses it" in text
    # create of an owner
    assert "[Account Owner only] Role: Account Owner." in text
    # delete
    assert 'click "old@acme.example" and archive the user.' in text
    assert "- [ ] [Account Owner only] Open the user and tick the Cognitive access checkbox" in markdown
    assert "  **Warning:** this deactivates the previous key at once: update every integration that uses it" in (
        markdown
    )


def test_examples_validate() -> None:
    root = Path(__file__).parents[3] / "examples"
    for name in ("personio", "predictive-index"):
        result = run(root / name, "validate")
        assert result.exit_code == 0, result.output
