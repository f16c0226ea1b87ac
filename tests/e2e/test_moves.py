"""Moves a Terraform user reaches for, against the real server: show, import, forget."""

from __future__ import annotations

import json

import yaml


def _applied(org):
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return org


# -- keyform show ---------------------------------------------------------------------------------


def test_show_one_resource_prints_its_live_spec_as_yaml(org):
    _applied(org)
    shown = org.keyform("show", "credentials/bi-reporting")
    assert shown.exit_code == 0, shown.output
    item = org.find("credentials", "bi-reporting")
    lines = shown.stdout.splitlines()
    assert lines[0] == f"# credentials/bi-reporting: managed by keyform; id {item['id']}"
    assert lines[1:5] == ["credentials:", "  bi-reporting:", "    integration: Power BI", "    roles:"]
    assert yaml.safe_load(shown.stdout)["credentials"]["bi-reporting"]["roles"] == ["reporting"]
    org.assert_no_secret_leaked()


def test_show_everything_as_json_lists_each_resource_without_secrets(org):
    _applied(org)
    shown = org.keyform("show", "--format", "json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    by_address = {resource["address"]: resource for resource in document["resources"]}
    payroll = by_address["credentials/payroll-sync"]
    assert payroll["kind"] == "credentials" and payroll["name"] == "payroll-sync" and payroll["managed"] is True
    assert payroll["spec"]["integration"] == "DATEV"
    live_secret = org.find("credentials", "payroll-sync")["secrets"][0]["id"]
    assert [secret["id"] for secret in payroll["secrets"]] == [live_secret]
    assert by_address["organization"]["spec"] == {"api_access": True}
    assert "users/owner@acme.example" in by_address
    org.assert_no_secret_leaked()


def test_show_an_address_that_is_not_live_names_the_closest(org):
    _applied(org)
    shown = org.keyform("show", "credentials/bi-reportin")
    assert shown.exit_code == 1
    assert shown.stderr.strip() == (
        "Error: show credentials/bi-reportin: no such resource in the live state "
        "(did you mean 'credentials/bi-reporting'?)"
    )
    unknown = org.keyform("show", "gadgets/x")
    assert unknown.exit_code == 1
    assert "Error: show gadgets/x: no kind 'gadgets' (addresses are KIND/NAME; kinds here: " in unknown.stderr


def test_show_still_renders_a_saved_plan_file_and_with_plan(org, tmp_path):
    planfile = tmp_path / "plan.json"
    assert org.keyform("plan", "--out", str(planfile)).exit_code == 0
    for args in (["show", str(planfile)], ["show", "--plan", str(planfile)]):
        shown = org.keyform(*args)
        assert shown.exit_code == 0, shown.output
        assert "+ credentials/payroll-sync  (create)  [new secret -> sink]" in shown.stdout
    wrong = org.keyform("show", str(planfile), "--format", "yaml")
    assert wrong.exit_code == 1
    assert "Error: a saved plan renders as text, json or markdown, not yaml" in wrong.stderr


# -- keyform import -------------------------------------------------------------------------------


def _shadow(org):
    """A credential made outside keyform, with access nobody declared."""
    client = org.api()
    try:
        body = {"name": "shadow-it", "integration": "Zapier", "permissions": {"employees": ["read"]}}
        client.request("POST", "/v1/credentials", what="shadow-it", json=body)
    finally:
        client.close()


def test_import_prints_the_yaml_to_paste(org):
    _shadow(_applied(org))
    imported = org.keyform("import", "credentials/shadow-it")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        "credentials:",
        "  shadow-it:",
        "    integration: Zapier",
        "    permissions:",
        "      employees:",
        "      - read",
    ]
    assert "the next plan shows an adopt (managed by keyform once applied)" in imported.stderr


def test_import_into_a_file_keeps_its_comments_then_plan_adopts(org):
    _shadow(_applied(org))
    path = org.workdir / "access" / "credentials.yaml"
    before = path.read_text()
    imported = org.keyform("import", "credentials/shadow-it", "--into", str(path))
    assert imported.exit_code == 0, imported.output
    assert f"Added credentials/shadow-it to {path}: the next plan shows an adopt" in imported.stderr
    after = path.read_text()
    assert after.startswith(before.rstrip("\n") + "\n\n  shadow-it:\n    integration: Zapier\n")
    assert "  legacy-export:                    # replaced by payroll-sync;" in after
    planned = org.keyform("plan")
    assert "& credentials/shadow-it  (adopt: live, not yet managed by keyform)" in planned.stdout
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    assert org.find("credentials", "shadow-it")["managed_by"] == "keyform"
    assert "No changes." in org.keyform("plan").stdout


def test_import_refuses_what_is_declared_and_a_file_outside_the_desired_state(org):
    _shadow(_applied(org))
    declared = org.keyform("import", "credentials/bi-reporting")
    assert declared.exit_code == 1
    assert declared.stderr.startswith("Error: import credentials/bi-reporting: already declared at ")
    assert declared.stderr.strip().endswith(": nothing to import")
    stray = org.workdir / "stray.yaml"
    stray.write_text("# not included\ncredentials: {}\n")
    outside = org.keyform("import", "credentials/shadow-it", "--into", str(stray))
    assert outside.exit_code == 1
    assert outside.stderr.strip() == (
        f"Error: import credentials/shadow-it: {stray} is not part of the desired state: include it from the root file"
    )
    assert stray.read_text() == "# not included\ncredentials: {}\n"


# -- keyform forget -------------------------------------------------------------------------------


def _undeclare_legacy_export(org):
    path = org.workdir / "access" / "credentials.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  legacy-export:")].rstrip("\n") + "\n")


def test_forget_drops_ownership_and_leaves_the_resource_alive(org):
    _applied(org)
    _undeclare_legacy_export(org)
    assert "- credentials/legacy-export  (delete: removed from the desired state)" in org.keyform("plan").stdout
    forgotten = org.keyform("forget", "credentials/legacy-export", "--auto-approve")
    assert forgotten.exit_code == 0, forgotten.output
    assert "/ credentials/legacy-export  (forget: keyform stops managing it; it stays live, unchanged)" in (
        forgotten.stdout
    )
    assert "Plan: 0 to create, 0 to update, 0 to delete, 1 to forget." in forgotten.stdout
    item = org.find("credentials", "legacy-export")
    assert item["managed_by"] is None and item["integration"] == "Legacy CSV export"
    again = org.keyform("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output  # unmanaged now: reported, never deleted
    assert "? credentials/legacy-export  (live, not managed by keyform; safety.unmanaged: report)" in again.stdout
    assert "Plan: 0 to create, 0 to update, 0 to delete." in again.stdout
    org.assert_no_secret_leaked()


def test_forget_plan_json_and_refusals(org):
    _applied(org)
    declared = org.keyform("forget", "credentials/legacy-export", "--auto-approve")
    assert declared.exit_code == 1
    assert "Error: forget credentials/legacy-export: still declared at " in declared.stderr
    assert "remove it from the desired state first (else the next plan adopts it again)" in declared.stderr
    missing = org.keyform("forget", "credentials/legacy-exprt", "--auto-approve")
    assert missing.exit_code == 1
    assert "no such resource in the live state (did you mean 'credentials/legacy-export'?)" in missing.stderr
    assert org.find("credentials", "legacy-export")["managed_by"] == "keyform"


# -- plan --destroy, the targeted-plan warning ------------------------------------------------------


def test_plan_destroy_deletes_every_managed_resource_and_safety_applies(org):
    _applied(org)
    refused = org.keyform("plan", "--destroy")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: unsafe plan: protected users/owner@acme.example would be deleted; ")
    assert "users/owner@acme.example is the identity keyform is running as and would be deleted" in refused.stderr
    targeted = org.keyform("plan", "--destroy", "--target", "credentials/bi-reporting", "--format", "json")
    assert targeted.exit_code == 0, targeted.output
    plan = json.loads(targeted.stdout)
    assert plan["meta"]["destroy"] is True
    assert [(c["action"], c["address"], c["reason"]) for c in plan["changes"]] == [
        ("delete", "credentials/bi-reporting", "destroy: every managed resource is deleted")
    ]
    assert "Warning: a targeted plan: it covers only the targeted resources and what they need" in targeted.stderr
    assert "This is for exceptional cases" in targeted.stderr
    whole = org.keyform("plan", "--destroy")  # the thresholds held: nothing was changed
    assert whole.exit_code == 1 and org.find("credentials", "bi-reporting")["managed_by"] == "keyform"


def test_targeted_apply_warns_and_untargeted_plan_and_rotate_do_not(org):
    planned = org.keyform("plan")
    assert planned.exit_code == 0
    assert "Warning: a targeted plan" not in planned.stderr
    applied = org.keyform("apply", "--auto-approve", "--target", "credentials/bi-reporting")
    assert applied.exit_code == 0, applied.output
    assert "Warning: a targeted plan: it covers only the targeted resources" in applied.stderr
    rotated = org.keyform("rotate", "credentials/bi-reporting", "--auto-approve")
    assert rotated.exit_code == 0 and "Warning: a targeted plan" not in rotated.stderr


# -- --json for validate and apply, --parallelism ---------------------------------------------------


def test_apply_json_is_one_document_of_results(org):
    applied = org.keyform("apply", "--auto-approve", "--json", "--parallelism", "1")
    assert applied.exit_code == 0, applied.output
    document = json.loads(applied.stdout)  # stdout holds the document and nothing else
    assert "+ credentials/payroll-sync  (create)  [new secret -> sink]" in applied.stderr  # the plan, for logs
    assert document["ok"] is True and document["dry_run"] is False
    assert document["counts"]["applied"] == len(document["changes"]) and document["counts"]["failed"] == 0
    payroll = next(c for c in document["changes"] if c["address"] == "credentials/payroll-sync")
    assert payroll == {
        "address": "credentials/payroll-sync",
        "action": "create",
        "status": "applied",
        "message": "",
        "secret_delivered": True,
    }
    assert document["secrets_delivered"] == 7 and document["sink"].endswith("secrets.json")
    again = org.keyform("apply", "--auto-approve", "--json")
    assert json.loads(again.stdout) == {
        "ok": True,
        "dry_run": False,
        "counts": {"applied": 0, "failed": 0, "stale": 0, "skipped": 0, "planned": 0},
        "changes": [],
        "secrets_delivered": 0,
        "sink": document["sink"],
        "stopped": "",
        "emergency_file": None,
    }
    org.assert_no_secret_leaked()


def test_apply_parallelism_must_be_positive(org):
    refused = org.keyform("apply", "--auto-approve", "--parallelism", "0")
    assert refused.exit_code == 1
    assert "Error: Invalid value for '--parallelism': 0 is not in the range x>=1." in refused.stderr


def test_validate_json_reports_counts_or_every_problem_with_its_place(org):
    valid = org.keyform("validate", "--json")
    assert valid.exit_code == 0, valid.output
    document = json.loads(valid.stdout)
    assert document["valid"] is True and document["problems"] == []
    assert document["counts"]["credentials"] == 4 and document["root"].endswith("keyform.yaml")
    path = org.workdir / "access" / "credentials.yaml"
    path.write_text(path.read_text().replace("roles: [reporting]", "roles: [reportin]"))
    invalid = org.keyform("validate", "--json")
    assert invalid.exit_code == 1
    problems = json.loads(invalid.stdout)["problems"]
    assert len(problems) == 1
    assert problems[0]["file"].endswith("credentials.yaml") and problems[0]["line"] == 15
    assert "reportin" in problems[0]["message"]


# -- removed: in keyform.yaml ---------------------------------------------------------------------


def test_a_removed_entry_plans_a_forget_and_apply_leaves_the_resource_alive(org):
    _applied(org)
    _undeclare_legacy_export(org)
    root = org.workdir / "keyform.yaml"
    root.write_text(root.read_text() + "\nremoved:\n  - credentials/legacy-export\n")
    planned = org.keyform("plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert [(c["action"], c["address"]) for c in plan["changes"]] == [("forget", "credentials/legacy-export")]
    assert plan["summary"]["forget"] == 1 and plan["summary"]["delete"] == 0
    text = org.keyform("plan")
    assert "/ credentials/legacy-export  (forget: keyform stops managing it; it stays live, unchanged)" in text.stdout
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    assert org.find("credentials", "legacy-export")["managed_by"] is None
    again = org.keyform("plan", "--detailed-exitcode")  # idempotent: nothing left to forget
    assert again.exit_code == 0, again.output


def test_removed_may_not_list_a_declared_address(org):
    root = org.workdir / "keyform.yaml"
    root.write_text(root.read_text() + "\nremoved:\n  - credentials/legacy-export\n")
    result = org.keyform("validate")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "removed lists credentials/legacy-export, which is still declared under credentials: delete one of them "
        "(removed stops managing a resource you no longer declare)"
    )
    assert "keyform.yaml:" in result.stderr


# -- rotation requested in YAML -------------------------------------------------------------------


def _request_rotation(org, when: str) -> None:
    """credentials/bi-reporting with `rotation_requested: WHEN` (replacing any earlier request)."""
    path = org.workdir / "access" / "credentials.yaml"
    lines = [line for line in path.read_text().splitlines(keepends=True) if "rotation_requested" not in line]
    index = lines.index("    rotation_overlap: 1h\n")
    path.write_text("".join([*lines[: index + 1], f"    rotation_requested: {when}\n", *lines[index + 1 :]]))


def test_rotation_requested_in_yaml_plans_one_rotation_then_nothing(org):
    import time
    from datetime import UTC, datetime, timedelta

    _applied(org)
    created = org.find("credentials", "bi-reporting")["secrets"][0]["created_at"]
    after = datetime.fromisoformat(created.replace("Z", "+00:00")).replace(microsecond=0) + timedelta(seconds=1)
    _request_rotation(org, after.isoformat().replace("+00:00", "Z"))
    deadline = time.monotonic() + 30  # the requested moment is at most a second away
    while datetime.now(UTC) < after and time.monotonic() < deadline:
        time.sleep(0.1)
    planned = org.keyform("plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    changes = json.loads(planned.stdout)["changes"]
    assert [(c["action"], c["address"]) for c in changes] == [("rotate", "credentials/bi-reporting")]
    when = after.isoformat().replace("+00:00", "Z")
    assert changes[0]["reason"] == f"rotation requested for {when} (rotation_requested)"
    text = org.keyform("plan").stdout
    assert f"± credentials/bi-reporting  (rotate: rotation requested for {when} (rotation_requested))" in text
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    assert len(org.find("credentials", "bi-reporting")["secrets"]) == 2  # the overlap: old and new
    again = org.keyform("plan", "--detailed-exitcode")  # the newest secret is newer than the request
    assert again.exit_code == 0, again.output
    org.assert_no_secret_leaked()


def test_a_future_rotation_request_plans_nothing_and_a_bad_date_is_refused(org):
    _applied(org)
    _request_rotation(org, "2999-01-01")
    assert org.keyform("plan", "--detailed-exitcode").exit_code == 0
    _request_rotation(org, "next-week")
    refused = org.keyform("validate")
    assert refused.exit_code == 1
    assert refused.stderr.strip().endswith(
        "credentials.bi-reporting.rotation_requested: 'next-week' is not a UTC date: use YYYY-MM-DD or "
        "YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-01"
    )
    assert "credentials.yaml:" in refused.stderr


# -- keyform pull ---------------------------------------------------------------------------------


def test_pull_shows_the_diff_then_writes_live_values_keeping_comments(org):
    _applied(org)
    org.patch("credentials", "legacy-export", {"integration": "Legacy CSV v2", "enabled": True})
    org.patch("roles", "reporting", {"description": "Dashboards"})
    path = org.workdir / "access" / "credentials.yaml"
    refused = org.keyform("pull")  # no terminal: shows the diff, writes nothing
    assert refused.exit_code == 1
    # enabled is back at its default: the line goes rather than saying `enabled: true`
    assert (
        "-    integration: Legacy CSV export\n-    enabled: false\n+    integration: Legacy CSV v2\n" in refused.stdout
    )
    assert "-    description: Read-only access to reports for controlling\n+    description: Dashboards\n" in (
        refused.stdout
    )
    assert "Error: not writing: no terminal to confirm on; pass --auto-approve" in refused.stderr
    assert "Legacy CSV export" in path.read_text()
    pulled = org.keyform("pull", "--auto-approve")
    assert pulled.exit_code == 0, pulled.output
    assert "Pulled 2 resource(s) into " in pulled.stderr
    text = path.read_text()
    assert "  legacy-export:                    # replaced by payroll-sync;" in text  # the comment stays
    assert "    integration: Legacy CSV v2\n    permissions:\n" in text
    assert "rotate_after: 90d" in text  # secret policies are not live values: kept
    assert org.keyform("plan", "--detailed-exitcode").exit_code == 0
    nothing = org.keyform("pull", "--auto-approve")
    assert "No drift to pull: the desired state matches the live state." in nothing.stdout


# -- keyform import ADDR ID -----------------------------------------------------------------------


def test_import_by_id_under_the_live_name_is_a_plain_import(org):
    _shadow(_applied(org))
    item = org.find("credentials", "shadow-it")
    imported = org.keyform("import", "credentials/shadow-it", item["id"])
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.startswith("credentials:\n  shadow-it:\n    integration: Zapier\n")
    assert "moved:" not in imported.stdout


def test_import_by_id_under_a_new_name_prints_the_yaml_and_a_moved_entry(org):
    _shadow(_applied(org))
    item = org.find("credentials", "shadow-it")
    imported = org.keyform("import", "credentials/zapier-sync", item["id"])
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        "credentials:",
        "  zapier-sync:",
        "    integration: Zapier",
        "    permissions:",
        "      employees:",
        "      - read",
        "moved:",
        "- from: credentials/shadow-it",
        "  to: credentials/zapier-sync",
    ]
    assert (
        "Paste this into a desired-state file (or use --into FILE); the next plan shows an adopt that renames "
        "credentials/shadow-it to credentials/zapier-sync." in imported.stderr
    )


def test_import_by_id_into_a_file_adds_the_entry_and_the_move_then_apply_renames(org):
    _shadow(_applied(org))
    item = org.find("credentials", "shadow-it")
    path = org.workdir / "access" / "credentials.yaml"
    before = path.read_text()
    imported = org.keyform("import", "credentials/zapier-sync", item["id"], "--into", str(path))
    assert imported.exit_code == 0, imported.output
    after = path.read_text()
    assert after.startswith(before.rstrip("\n") + "\n\n  zapier-sync:\n    integration: Zapier\n")
    assert after.endswith("\n\nmoved:\n  - from: credentials/shadow-it\n    to: credentials/zapier-sync\n")
    assert "  legacy-export:                    # replaced by payroll-sync;" in after
    planned = org.keyform("plan")
    assert (
        "& credentials/zapier-sync  (adopt: renamed from credentials/shadow-it; live, not yet managed by keyform)"
        in planned.stdout
    )
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    renamed = org.find("credentials", "zapier-sync")
    assert renamed["id"] == item["id"] and renamed["managed_by"] == "keyform"
    assert "No changes." in org.keyform("plan").stdout


def test_import_by_id_refusals(org):
    _shadow(_applied(org))
    unknown = org.keyform("import", "credentials/zapier-sync", "cred_nope")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        "Error: import credentials/zapier-sync cred_nope: no live credential has id cred_nope "
        "(list them with `keyform show credentials`)"
    )
    declared_id = org.find("credentials", "bi-reporting")["id"]
    declared = org.keyform("import", "credentials/bi-dashboard", declared_id)
    assert declared.exit_code == 1
    assert declared.stderr.startswith(
        f"Error: import credentials/bi-dashboard {declared_id}: id {declared_id} is credentials/bi-reporting, "
        "declared at "
    )
    assert declared.stderr.strip().endswith(
        "to rename it, change its name there and add a moved: entry from credentials/bi-reporting to "
        "credentials/bi-dashboard"
    )
    shadow_id = org.find("credentials", "shadow-it")["id"]
    taken = org.keyform("import", "credentials/bi-reporting", shadow_id)
    assert taken.exit_code == 1
    assert "Error: import credentials/bi-reporting: already declared at " in taken.stderr
    client = org.api()
    try:
        client.request("POST", "/v1/roles", what="shadow-role", json={"name": "shadow-role"})
    finally:
        client.close()
    role = org.find("roles", "shadow-role")["id"]
    unrenamable = org.keyform("import", "roles/reports", role)
    assert unrenamable.exit_code == 1
    assert unrenamable.stderr.strip() == (
        f"Error: import roles/reports {role}: it is live as roles/shadow-role, and role names can't change on the "
        "keyform server: import it as roles/shadow-role"
    )
