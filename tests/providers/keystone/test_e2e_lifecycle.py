"""End to end through the `keyform` command against a real Keystone: the example's whole life.

One Keystone per test session, reset for this module; the tests run in order on one working copy.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.providers.keystone.cli import CREDENTIALS, Workdir, add_services


@pytest.fixture(scope="module")
def cloud_with_services(keystone):
    add_services(keystone)
    return keystone


@pytest.fixture(scope="module")
def work(cloud_with_services, tmp_path_factory) -> Workdir:
    keystone = cloud_with_services
    work = Workdir.of_example(keystone, tmp_path_factory.mktemp("keystone-e2e"))
    result = work.keyform("-v", "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return work


def test_the_plan_for_an_empty_keystone_says_who_gains_what_and_how_keyform_acts_as_owner(
    cloud_with_services, tmp_path
):
    fresh = Workdir.of_example(cloud_with_services, tmp_path)  # runs first: this module's Keystone is still empty
    fresh.edit(
        "application_credentials",
        "payments-ci-read",
        value={"owner": "svc-payments-ci", "project": "payments", "roles": ["member"], "unrestricted": True},
    )
    result = fresh.keyform("plan", "--detailed-exitcode")

    assert result.exit_code == 2, result.output
    out = result.output
    assert "application_credentials/payments-ci-read gains project:payments:member" in out
    assert "keyform acts as its owner users/svc-payments-ci: it sets that user a one-time password" in out
    assert "application_credentials/payments-ci-read is unrestricted" in out
    assert "application_credentials/payments-ci-read never expires (no expires_at)" in out


def test_apply_delivers_every_credential_and_a_second_plan_is_empty(work):
    secrets = work.secrets()
    assert sorted(secrets) == CREDENTIALS
    entry = secrets["application_credentials/payments-ci-deploy"]
    assert entry["type"] == "application_credential"
    assert entry["auth_url"] == work.keystone.url
    facts = work.login(entry)
    assert facts is not None and facts.project_name == "payments"
    assert set(facts.roles) >= {"deployer", "member", "reader"}

    again = work.keyform("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output


def test_verify_passes_for_every_delivered_credential(work):
    result = work.keyform("verify")

    assert result.exit_code == 0, result.output
    assert "3 ok, 0 failed" in result.output
    assert "ok   application_credentials/warehouse-loader: project data-platform, roles reader" in result.output


def test_an_out_of_band_change_is_drift_and_apply_repairs_it(work):
    cloud = work.cloud()
    cloud.read_all()
    project_id = cloud.index.id("projects", "payments", "test")
    cloud.client.update("projects", "project", project_id, {"description": "changed by hand"}, "test")
    user_id = cloud.index.id("users", "svc-warehouse-loader", "test")
    role_id = cloud.index.id("roles", "admin", "test")
    cloud.client.grant(cloud.index.id("projects", "data-platform", "test"), user_id, role_id, "test")

    drift = work.keyform("plan", "--detailed-exitcode")
    assert drift.exit_code == 2, drift.output
    assert "projects/payments" in drift.output
    assert "changed by hand" in drift.output
    assert "users/svc-warehouse-loader loses project:data-platform:admin" in drift.output

    repaired = work.keyform("apply", "--auto-approve")
    assert repaired.exit_code == 0, repaired.output
    assert work.keyform("plan", "--detailed-exitcode").exit_code == 0
    live = work.cloud().read_all()
    assert live["projects/payments"].attributes["description"] == "Payment services"
    assert live["users/svc-warehouse-loader"].attributes["projects"] == {"data-platform": ["reader"]}


def test_a_rotation_keeps_the_old_credential_until_the_overlap_ends(work):
    address = "application_credentials/payments-ci-staging"
    work.edit("application_credentials", "payments-ci-staging", "rotation_overlap", value="8s")
    old = work.secrets()[address]

    rotated = work.keyform("apply", "--auto-approve", "--replace", address)
    assert rotated.exit_code == 0, rotated.output
    assert f"the current one ({old['application_credential_id']}) keeps working for 8s, until about" in rotated.output
    new = work.secrets()[address]
    assert new["application_credential_id"] != old["application_credential_id"]
    assert new["retiring"]["application_credential_id"] == old["application_credential_id"]
    assert work.login(old) is not None
    assert work.login(new) is not None
    assert work.keyform("plan", "--detailed-exitcode").exit_code == 0  # within the overlap: nothing to do

    over = datetime.fromisoformat(new["created_at"].replace("Z", "+00:00")) + timedelta(seconds=9)
    time.sleep(max(0.0, (over - datetime.now(UTC)).total_seconds()))  # the overlap is over
    revoke = work.keyform("apply", "--auto-approve")
    assert revoke.exit_code == 0, revoke.output
    assert f"{old['application_credential_id']} stops working now (rotation overlap over)" in revoke.output
    assert work.login(old) is None
    assert work.login(new) is not None


def test_verify_fails_for_a_credential_revoked_out_of_band(work):
    address = "application_credentials/warehouse-loader"
    entry = work.secrets()[address]
    cloud = work.cloud()
    cloud.read_all()
    owner = cloud.index.id("users", "svc-warehouse-loader", "test")
    cloud.client.delete_application_credential(owner, entry["application_credential_id"], "test")

    result = work.keyform("verify")

    assert result.exit_code == 1, result.output
    assert f"FAIL {address}: does not authenticate: it was revoked, deleted or has expired" in result.output
    repaired = work.keyform("apply", "--auto-approve")
    assert repaired.exit_code == 0, repaired.output
    assert work.keyform("verify").exit_code == 0


def test_a_credential_deleted_from_the_yaml_stops_authenticating(work):
    address = "application_credentials/payments-ci-deploy"
    entry = work.secrets()[address]
    document = work.document()
    del document["application_credentials"]["payments-ci-deploy"]
    work.write(document)

    result = work.keyform("apply", "--auto-approve")

    assert result.exit_code == 0, result.output
    assert f"deletes {address}" in result.output
    assert work.login(entry) is None
    assert "retired_at" in work.secrets()[address]


def test_no_secret_appears_in_any_output_log_or_plan_file(work):
    out = work.path / "plan.json"
    plan = work.keyform("-v", "plan", "--replace", "application_credentials/warehouse-loader", "--out", str(out))
    assert plan.exit_code == 0, plan.output
    assert json.loads(out.read_text())["changes"][0]["action"] == "rotate"
    values = [*work.secret_values(), work.keystone.admin_password]
    assert len(values) >= 3
    texts = [*work.outputs, *work.files_text()]
    for value in values:
        for text in texts:
            assert value not in text
