"""`moved:` entries (Terraform's moved block) against the real server: renames in place, refusals."""

from __future__ import annotations

import json

from keyform.providers.http import ApiClient


def _applied(org):
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return org


def _rename_in_file(org, relative: str, old: str, new: str) -> None:
    path = org.workdir / relative
    text = path.read_text()
    assert f"  {old}:" in text
    path.write_text(text.replace(f"  {old}:", f"  {new}:", 1))


def _moved(org, *pairs: tuple[str, str]) -> int:
    """Append a `moved:` section to keyform.yaml; returns the line of its first entry."""
    root = org.workdir / "keyform.yaml"
    text = root.read_text().rstrip("\n") + "\n\nmoved:\n"
    first = text.count("\n") + 1
    for source, target in pairs:
        text += f"  - from: {source}\n    to: {target}\n"
    root.write_text(text)
    return first


def test_moved_renames_a_credential_in_place_and_its_sink_entry_moves(org):
    _applied(org)
    before = org.find("credentials", "bi-reporting")
    entry = org.secrets()["credentials/bi-reporting"]
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    _moved(org, ("credentials/bi-reporting", "credentials/bi-dashboard"))

    planned = org.keyform("plan")
    assert planned.exit_code == 0, planned.output
    assert "  ~ credentials/bi-dashboard  (update: renamed from credentials/bi-reporting)" in planned.stdout
    assert "credentials/bi-reporting  (delete" not in planned.stdout
    assert "Plan: 0 to create, 1 to update, 0 to delete." in planned.stdout
    as_json = json.loads(org.keyform("plan", "--format", "json").stdout)
    [change] = as_json["changes"]
    assert (change["action"], change["address"], change["id"]) == ("update", "credentials/bi-dashboard", before["id"])
    assert change["details"]["moved_from"] == "credentials/bi-reporting"
    assert change["reason"] == "renamed from credentials/bi-reporting"
    markdown = org.keyform("plan", "--format", "markdown").stdout
    assert "**`~` `credentials/bi-dashboard`** (update) — renamed from credentials/bi-reporting" in markdown

    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    after = org.find("credentials", "bi-dashboard")
    assert after["id"] == before["id"] and after["client_id"] == before["client_id"]
    assert [s["id"] for s in after["secrets"]] == [s["id"] for s in before["secrets"]]  # no new secret
    secrets = org.secrets()
    assert secrets["credentials/bi-dashboard"] == entry
    assert "credentials/bi-reporting" not in secrets

    again = org.keyform("plan", "--detailed-exitcode")  # the entry stays, and plans nothing
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    org.assert_no_secret_leaked()


def test_moved_changes_a_users_email_and_their_api_key_keeps_working(org):
    _applied(org)
    before = org.find("users", "tom.becker@acme.example")
    key = org.secrets()["users/tom.becker@acme.example"]["api_key"]
    _rename_in_file(org, "access/people.yaml", "tom.becker@acme.example", "Thomas.Becker@acme.example")
    _moved(org, ("users/tom.becker@acme.example", "users/Thomas.Becker@acme.example"))

    planned = org.keyform("plan")
    assert "  ~ users/thomas.becker@acme.example  (update: renamed from users/tom.becker@acme.example)" in (
        planned.stdout
    )
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert org.find("users", "thomas.becker@acme.example")["id"] == before["id"]
    assert org.secrets()["users/thomas.becker@acme.example"]["api_key"] == key
    client = ApiClient(org.url, key)
    try:
        whoami = client.request_json("GET", "/v1/whoami", what="whoami")
    finally:
        client.close()
    assert whoami["principal"]["name"].lower() == "thomas.becker@acme.example"
    assert "No changes." in org.keyform("plan").stdout
    org.assert_no_secret_leaked()


def test_a_stale_rename_leaves_the_sink_entry_where_it_was_and_the_next_run_converges(org, tmp_path):
    _applied(org)
    entry = org.secrets()["credentials/bi-reporting"]
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    _moved(org, ("credentials/bi-reporting", "credentials/bi-dashboard"))
    planfile = tmp_path / "plan.json"
    assert org.keyform("plan", "--out", str(planfile)).exit_code == 0
    org.patch("credentials", "bi-reporting", {"integration": "Tableau"})  # someone changes it meanwhile
    stale = org.keyform("apply", str(planfile), "--auto-approve")
    assert stale.exit_code != 0
    assert "changed since the plan" in stale.output
    assert org.secrets()["credentials/bi-reporting"] == entry
    assert "credentials/bi-dashboard" not in org.secrets()
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    assert org.secrets()["credentials/bi-dashboard"] == entry
    assert org.find("credentials", "bi-dashboard")["integration"] == "Power BI"


def test_moved_from_a_resource_that_is_not_live_creates_with_a_note(org):
    _applied(org)
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    _moved(org, ("credentials/bi-reportin", "credentials/bi-dashboard"))
    planned = org.keyform("plan")
    assert planned.exit_code == 0, planned.output
    note = "(create: moved from credentials/bi-reportin, which is not live: created new)"
    assert f"+ credentials/bi-dashboard  {note}" in planned.stdout


def test_moved_with_both_ends_live_is_refused_naming_both_and_the_fix(org):
    _applied(org)
    client = org.api()
    try:
        body = {"name": "bi-dashboard", "integration": "Power BI"}
        client.request("POST", "/v1/credentials", what="bi-dashboard", json=body)
    finally:
        client.close()
    old, new = org.find("credentials", "bi-reporting"), org.find("credentials", "bi-dashboard")
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    line = _moved(org, ("credentials/bi-reporting", "credentials/bi-dashboard"))
    refused = org.keyform("plan")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f"Error: {org.workdir / 'keyform.yaml'}:{line}:5: "
        "moved credentials/bi-reporting -> credentials/bi-dashboard: both are live "
        f"(ids {old['id']} and {new['id']}), so keyform can't tell which to keep: delete the entry to keep "
        "credentials/bi-dashboard (and delete credentials/bi-reporting), or delete credentials/bi-dashboard "
        "outside keyform to rename credentials/bi-reporting"
    )


def test_moved_entries_that_make_no_sense_are_config_errors_with_positions(org):
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    line = _moved(
        org,
        ("credentials/shift-planner", "users/shift@acme.example"),
        ("credentials/bi-reporting", "credentials/bi-dashbord"),
        ("credentials/legacy-export", "credentials/payroll-sync"),
        ("credentials/old-a", "credentials/old-b"),
        ("credentials/old-b", "credentials/bi-dashboard"),
        ("credentials/forgotten", "credentials/shift-planner"),
    )
    root = org.workdir / "keyform.yaml"
    root.write_text(root.read_text() + "removed: [credentials/forgotten]\n")
    checked = org.keyform("validate")
    assert checked.exit_code == 1
    assert checked.stderr.strip().splitlines() == [
        f"{root}:{line}:5: moved credentials/shift-planner -> users/shift@acme.example: from and to must be "
        "the same kind (a move renames one credentials resource)",
        f"{root}:{line + 3}:9: moved credentials/bi-reporting -> credentials/bi-dashbord: "
        "credentials/bi-dashbord is not declared (did you mean 'credentials/bi-dashboard'?): declare the resource "
        "under its new name in credentials",
        f"{root}:{line + 4}:11: moved credentials/legacy-export -> credentials/payroll-sync: "
        "credentials/legacy-export is still declared under credentials: delete it there (the resource is declared "
        "under its new name)",
        f"{root}:{line + 7}:9: moved credentials/old-a -> credentials/old-b: the entry at {root}:"
        f"{line + 8}:5 moves credentials/old-b on: chains are not followed; write one entry from the address that "
        "is live to the one declared now",
        f"{root}:{line + 10}:11: moved credentials/forgotten -> credentials/shift-planner: removed: lists "
        "credentials/forgotten too: keep one (rename it, or stop managing it)",
    ]


def test_moving_a_role_replaces_it_because_the_server_cannot_rename_roles(org):
    _applied(org)
    old = org.find("roles", "reporting")
    _rename_in_file(org, "access/roles.yaml", "reporting", "reports")
    for relative in ("access/credentials.yaml", "access/people.yaml"):
        path = org.workdir / relative
        path.write_text(path.read_text().replace("roles: [reporting]", "roles: [reports]"))
    _moved(org, ("roles/reporting", "roles/reports"))
    planned = org.keyform("plan")
    assert planned.exit_code == 0, planned.output
    why = "moved: role names can't change on the keyform server"
    assert f"  + roles/reports  (create: replaces roles/reporting ({why}))" in planned.stdout
    assert f"  - roles/reporting  (delete: replaced by roles/reports ({why}))" in planned.stdout
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert org.find("credentials", "bi-reporting")["roles"] == ["reports"]
    assert org.find("roles", "reports")["id"] != old["id"]
    assert "No changes." in org.keyform("plan").stdout


def test_a_run_killed_after_moving_the_sink_entry_before_the_rename_converges(org):
    _applied(org)
    document = org.secrets()
    entry = document.pop("credentials/bi-reporting")
    document["credentials/bi-dashboard"] = entry  # where the killed run's move left it; the API never renamed
    org.secrets_file.write_text(json.dumps(document))
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    _moved(org, ("credentials/bi-reporting", "credentials/bi-dashboard"))
    assert "~ credentials/bi-dashboard  (update: renamed from credentials/bi-reporting)" in org.keyform("plan").stdout
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert org.secrets()["credentials/bi-dashboard"] == entry
    assert "credentials/bi-reporting" not in org.secrets()
    assert org.find("credentials", "bi-dashboard")["id"]
    assert "No changes." in org.keyform("plan").stdout


def test_moved_entries_may_live_in_an_included_file_and_errors_point_into_it(org):
    _applied(org)
    _rename_in_file(org, "access/credentials.yaml", "bi-reporting", "bi-dashboard")
    _rename_in_file(org, "access/credentials.yaml", "shift-planner", "quinyx")
    _moved(org, ("credentials/shift-planner", "credentials/quinyx"))
    included = org.workdir / "access" / "credentials.yaml"
    text = included.read_text().rstrip("\n") + "\n\nmoved:\n"
    line = text.count("\n") + 1
    included.write_text(text + "  - from: credentials/bi-reporting\n    to: credentials/bi-dashbord\n")
    checked = org.keyform("validate")
    assert checked.exit_code == 1
    assert checked.stderr.strip() == (
        f"{included}:{line + 1}:9: moved credentials/bi-reporting -> credentials/bi-dashbord: credentials/bi-dashbord "
        "is not declared (did you mean 'credentials/bi-dashboard'?): declare the resource under its new name in "
        "credentials"
    )
    included.write_text(text + "  - from: credentials/bi-reporting\n    to: credentials/bi-dashboard\n")
    planned = org.keyform("plan")
    assert "~ credentials/bi-dashboard  (update: renamed from credentials/bi-reporting)" in planned.stdout
    assert "~ credentials/quinyx  (update: renamed from credentials/shift-planner)" in planned.stdout
    assert "Plan: 0 to create, 2 to update, 0 to delete." in planned.stdout


def test_a_saved_plan_with_a_rename_applies_once(org, tmp_path):
    _applied(org)
    entry = org.secrets()["users/tom.becker@acme.example"]
    _rename_in_file(org, "access/people.yaml", "tom.becker@acme.example", "t.becker@acme.example")
    _moved(org, ("users/tom.becker@acme.example", "users/t.becker@acme.example"))
    planfile = tmp_path / "plan.json"
    assert org.keyform("plan", "--out", str(planfile)).exit_code == 0
    applied = org.keyform("apply", str(planfile), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert org.secrets()["users/t.becker@acme.example"] == entry
    assert "No changes." in org.keyform("plan").stdout
    org.assert_no_secret_leaked(planfile)
