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
