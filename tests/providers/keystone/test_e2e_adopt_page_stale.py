"""Through the `keyform` command against a real Keystone: adoption of an unmarked project, reads
with pages smaller than the data, a stale saved plan, and the risks a reviewer sees."""

from __future__ import annotations

import pytest

from tests.providers.keystone.cli import Workdir


@pytest.fixture(scope="module")
def work(keystone, tmp_path_factory) -> Workdir:
    work = Workdir.of_example(keystone, tmp_path_factory.mktemp("keystone-more"))
    document = work.document()
    del document["application_credentials"]  # no catalog services needed, and fast
    work.write(document)
    return work


def test_an_unmarked_project_is_adopted_and_marked(work):
    cloud = work.cloud()
    cloud.read_all()
    cloud.client.create("projects", "project", {"name": "payments", "description": "made by hand"}, "test")

    plan = work.keyform("plan")
    assert "& projects/payments" in plan.output
    assert "live, not yet managed by keyform" in plan.output

    applied = work.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "keyform-managed" in cloud.client.listing("/projects", "projects", "test", {"name": "payments"})[0]["tags"]
    assert "projects/payments" in cloud.managed_projects() or "payments" in cloud.managed_projects()
    assert work.keyform("plan", "--detailed-exitcode").exit_code == 0


def test_reads_hold_with_pages_smaller_than_the_data(work):
    work.edit("provider", "page_size", value=1)
    try:
        result = work.keyform("plan", "--detailed-exitcode")
        assert result.exit_code == 0, result.output  # 4 projects, 3 users: read in pages of one
    finally:
        work.edit("provider", "page_size", value=1000)


def test_a_saved_plan_is_stale_when_what_it_saw_moved(work):
    work.edit("projects", "payments", "description", value="Payments, renamed")
    planfile = str(work.path / "plan.json")  # --out is relative to the process, not to -C
    saved = work.keyform("plan", "--out", planfile)
    assert saved.exit_code == 0, saved.output
    cloud = work.cloud()
    cloud.read_all()
    project_id = cloud.index.id("projects", "payments", "test")
    cloud.client.update("projects", "project", project_id, {"description": "changed meanwhile"}, "test")

    result = work.keyform("apply", planfile, "--auto-approve")

    assert result.exit_code == 1, result.output
    assert "projects/payments" in result.output
    assert "changed since the plan: description changed" in result.output
    live = work.cloud().read_all()
    assert live["projects/payments"].attributes["description"] == "changed meanwhile"


def test_disabling_a_user_and_granting_a_role_are_flagged(work):
    work.edit("users", "svc-payments-ci", "enabled", value=False)
    work.edit("users", "svc-warehouse-loader", "projects", "payments", value=["member"])

    result = work.keyform("plan")

    assert "users/svc-payments-ci disabled: every application credential it owns stops working" in result.output
    assert "escalation: users/svc-warehouse-loader gains project:payments:member" in result.output
