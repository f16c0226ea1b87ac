"""The reconciler against the real server: apply, no-op, drift, stale plans, export, risks, safety."""

from __future__ import annotations

import json
import os
import stat

import yaml

from tests.e2e.conftest import EXAMPLE_SECRETS


def test_apply_example_from_empty_org_then_plan_shows_no_changes(org):
    first = org.keyform("plan", "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert "+ credentials/payroll-sync  (create)  [new secret -> sink]" in first.stdout
    assert "+ users/lena.wolf@acme.example  (create)\n" in first.stdout  # no api_key declared: no secret
    assert "& users/owner@acme.example  (adopt: live, not yet managed by keyform)\n" in first.stdout
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete:" in applied.stdout and "0 failed" in applied.stdout
    secrets = org.secrets()
    assert sorted(secrets) == EXAMPLE_SECRETS
    assert stat.S_IMODE(os.stat(org.secrets_file).st_mode) == 0o600
    again = org.keyform("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    org.assert_no_secret_leaked()


def test_generated_secrets_work_against_the_api(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    import requests

    entry = org.secrets()["credentials/payroll-sync"]
    token = requests.post(
        f"{org.url}/v1/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": entry["client_id"],
            "client_secret": entry["client_secret"],
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    key = org.secrets()["users/tom.becker@acme.example"]["api_key"]
    whoami = requests.get(f"{org.url}/v1/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert whoami.json()["principal"]["name"] == "tom.becker@acme.example"


def test_out_of_band_change_is_drift_and_apply_fixes_it(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    org.patch("credentials", "bi-reporting", {"permissions": {"employees": ["read", "write"]}})
    drift = org.keyform("plan", "--detailed-exitcode")
    assert drift.exit_code == 2
    assert "~ credentials/bi-reporting" in drift.stdout
    assert "permissions  employees: read, write -> (none)" in drift.stdout
    fixed = org.keyform("apply", "--auto-approve")
    assert fixed.exit_code == 0, fixed.output
    assert org.find("credentials", "bi-reporting")["permissions"] == {}
    assert org.keyform("plan", "--detailed-exitcode").exit_code == 0


def test_saved_plan_goes_stale_per_resource_and_apply_names_what_moved(org, tmp_path):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    text = (org.workdir / "access" / "credentials.yaml").read_text()
    text = text.replace("integration: Power BI", "integration: Power BI Pro").replace(
        "integration: Quinyx", "integration: Quinyx WFM"
    )
    (org.workdir / "access" / "credentials.yaml").write_text(text)
    planfile = tmp_path / "plan.json"
    planned = org.keyform("plan", "--out", str(planfile))
    assert planned.exit_code == 0 and planfile.exists()
    org.patch("credentials", "bi-reporting", {"enabled": False})
    applied = org.keyform("apply", str(planfile))
    assert applied.exit_code == 1
    assert "stale: credentials/bi-reporting: changed since the plan: enabled changed" in applied.stdout
    assert org.find("credentials", "shift-planner")["integration"] == "Quinyx WFM"  # independent change applied
    assert org.find("credentials", "bi-reporting")["integration"] == "Power BI"  # stale one untouched
    org.assert_no_secret_leaked(planfile)


def test_export_round_trips_to_zero_changes(org, tmp_path):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    out = tmp_path / "exported"
    exported = org.keyform("export", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    document = yaml.safe_load((out / "keyform.yaml").read_text())
    assert document["provider"]["token"] == "${env:KEYFORM_TOKEN}"
    assert document["include"] == ["roles.yaml", "users.yaml", "credentials.yaml"]
    credentials = yaml.safe_load((out / "credentials.yaml").read_text())
    assert credentials["credentials"]["payroll-sync"]["attributes"] == ["salary"]
    from click.testing import CliRunner

    from keyform.cli import main

    result = CliRunner().invoke(main, ["-C", str(out), "plan", "--detailed-exitcode"], catch_exceptions=False)
    org.outputs.append(result.output)
    assert result.exit_code == 0, result.output
    org.assert_no_secret_leaked(*out.iterdir())


def test_export_never_overwrites_the_hand_written_configuration_without_force(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    root = org.workdir / "keyform.yaml"
    written = root.read_text()
    refused = org.keyform("export", "--out", str(org.workdir))
    assert (refused.exit_code, refused.stderr) == (
        1,
        f"Error: export would overwrite {root}: pass --force to replace it, or choose another --out folder\n",
    )
    assert root.read_text() == written
    assert not (org.workdir / "users.yaml").exists()  # nothing half-written
    forced = org.keyform("export", "--out", str(org.workdir), "--force")
    assert forced.exit_code == 0, forced.output
    assert root.read_text() != written and (org.workdir / "users.yaml").exists()


def test_risks_show_escalations_and_breaking_changes_in_json(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    people = org.workdir / "access" / "people.yaml"
    people.write_text(
        people.read_text().replace(
            "roles: [reporting]", "roles: [reporting]\n    role: account_admin\n    cognitive_access: true"
        )
    )
    creds = org.workdir / "access" / "credentials.yaml"
    creds.write_text(
        creds.read_text()
        .replace("attributes: [salary]", "attributes: [salary, iban]")
        .replace("enabled: false", "enabled: true")
    )
    roles = org.workdir / "access" / "roles.yaml"
    roles.write_text(roles.read_text().replace("      custom_reports: [read]\n", ""))
    result = org.keyform("plan", "--format", "json", "--replace", "users/tom.becker@acme.example")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    messages = {(r["category"], r["message"]) for c in plan["changes"] for r in c["risks"]}
    assert ("escalation", "credentials/payroll-sync gains attribute:iban") in messages
    assert ("escalation", "users/lena.wolf@acme.example is granted cognitive (sensitive assessment) access") in messages
    assert ("escalation", "users/lena.wolf@acme.example org role raised to account_admin") in messages
    assert (
        "breaking",
        "users/tom.becker@acme.example: new API key deactivates the current key ({}) at once".format(
            org.find("users", "tom.becker@acme.example")["api_key"]["id"]
        ),
    ) in messages
    assert any(
        cat == "breaking" and msg.startswith("roles/reporting (held by 2") and "loses custom_reports:read" in msg
        for cat, msg in messages
    )
    markdown = org.keyform("plan", "--format", "markdown")
    head = markdown.stdout.split("<details>")[0]
    assert "#### Who gains access" in head and "lena.wolf@acme.example is granted cognitive" in head


def test_rotate_delivers_a_new_key_and_the_old_one_stops_working(org):
    import requests

    assert org.keyform("apply", "--auto-approve").exit_code == 0
    old = org.secrets()["users/tom.becker@acme.example"]["api_key"]
    rotated = org.keyform("rotate", "--auto-approve", "users/tom.becker@acme.example")
    assert rotated.exit_code == 0, rotated.output
    new = org.secrets()["users/tom.becker@acme.example"]["api_key"]
    assert new != old

    def check(key):
        return requests.get(f"{org.url}/v1/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code

    assert (check(old), check(new)) == (401, 200)
    org.assert_no_secret_leaked()


def test_apply_without_terminal_needs_auto_approve(org):
    result = org.keyform("apply")
    assert result.exit_code == 1
    assert (
        "Error: not applying: no terminal to confirm on; pass --auto-approve or apply a reviewed plan file"
        in result.stderr
    )
    assert org.find("users", "owner@acme.example")["managed_by"] is None  # nothing applied


def test_mass_delete_is_refused_unless_allowed(org):
    creds = org.workdir / "access" / "credentials.yaml"
    many = "credentials:\n  payroll-sync:\n    integration: DATEV\n" + "".join(
        f"  bulk-{i}:\n    integration: bulk\n" for i in range(12)
    )
    creds.write_text(many)
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    creds.write_text(many.split("  bulk-8:")[0])
    refused = org.keyform("plan")
    assert refused.exit_code == 1
    assert "would delete 4 of 13 managed credentials (31%), over safety.max_delete_fraction 25%" in refused.stderr
    assert org.keyform("apply", "--auto-approve", "--allow-unsafe").exit_code == 0
    assert org.keyform("plan", "--detailed-exitcode").exit_code == 0


def test_keyform_never_demotes_its_own_identity(org):
    people = org.workdir / "keyform.yaml"
    people.write_text(
        people.read_text().replace(
            "    role: account_owner\n    job_title: Managing Director",
            "    role: standard\n    job_title: Managing Director",
        )
    )
    result = org.keyform("plan", "--allow-unsafe")
    assert result.exit_code == 1
    assert "users/owner@acme.example is the identity keyform is running as and would be demoted" in result.stderr
