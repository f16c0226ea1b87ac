"""Rotation with overlap for login roles against a real cluster: `orders_api` with
`password.rotation_overlap` is group `orders_api` with logins `orders_api_a` and `orders_api_b`,
used alternately; the sink entry names the current one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.providers.postgresql.conftest import Project
from tests.providers.postgresql.test_e2e import assert_no_password_leaked

ADDRESS = "login_roles/orders_api"


def with_overlap(overlap: str) -> Any:
    return lambda d: d["login_roles"]["orders_api"]["password"].update({"rotation_overlap": overlap})


def connect(project: Project, user: str, password: str) -> Any:
    return psycopg.connect(
        host=project.cluster.host,
        port=project.cluster.port,
        dbname=project.database,
        user=user,
        password=password,
        autocommit=True,
    )


def logs_in(project: Project, user: str, password: str) -> bool:
    try:
        connect(project, user, password).close()
    except psycopg.OperationalError:
        return False
    return True


def valid_until(project: Project, role: str) -> datetime | None:
    rows = project.sql("SELECT NULLIF(rolvaliduntil, 'infinity') FROM pg_roles WHERE rolname = %s", role)
    return rows[0][0] if rows else None


def wait_for_changes(project: Project) -> str:
    """The plan's text once the overlap (1s) is over and it plans the revoke."""
    deadline = time.monotonic() + 30
    while True:
        done = project.keyform("plan", "--detailed-exitcode", code=None)
        if done.returncode == 2:
            return done.stdout
        assert time.monotonic() < deadline, f"no revoke planned: {done.stdout}{done.stderr}"
        time.sleep(0.2)


def test_apply_with_overlap_creates_a_group_and_two_logins_and_the_entry_logs_in(project: Project) -> None:
    project.edit(with_overlap("1h"))

    plan = project.keyform("plan")
    project.keyform("apply", "--auto-approve")

    assert "logins" in plan.stdout
    project.keyform("plan", "--detailed-exitcode", code=0)
    roles = project.sql("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'orders_api%%' ORDER BY rolname")
    assert roles == [("orders_api", False), ("orders_api_a", True), ("orders_api_b", True)]
    entry = project.sink()[ADDRESS]
    assert entry["user"] == "orders_api_a"
    with project.login("orders_api") as api:
        assert api.execute("SELECT session_user, current_user").fetchone() == ("orders_api_a", "orders_api")
        api.execute("INSERT INTO orders (customer_id, total) VALUES (2, 5)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api.execute("SELECT name FROM employees")
    verified = project.keyform("verify")
    assert f"{ADDRESS}: logs in and holds its" in verified.stdout and "FAIL" not in verified.stdout
    assert not logs_in(project, "orders_api_b", "")
    assert_no_password_leaked(project)


def test_a_rotation_moves_to_the_other_login_and_the_old_one_works_until_its_valid_until(project: Project) -> None:
    project.edit(with_overlap("1h"))
    project.keyform("apply", "--auto-approve")
    old = project.sink()[ADDRESS]

    plan = project.keyform("plan", "--replace", ADDRESS, "--target", ADDRESS)
    started = datetime.now(UTC)
    project.keyform("rotate", ADDRESS, "--auto-approve")

    assert "the new password logs in as orders_api_b" in plan.stdout
    assert "login orders_api_a" in plan.stdout and "stops working at about" in plan.stdout
    new = project.sink()[ADDRESS]
    assert new["user"] == "orders_api_b" and new["retiring"]["user"] == "orders_api_a"
    assert logs_in(project, "orders_api_b", new["password"])
    assert logs_in(project, "orders_api_a", old["password"])
    until = valid_until(project, "orders_api_a")
    assert until is not None and started + timedelta(hours=1) < until < datetime.now(UTC) + timedelta(minutes=62)
    assert valid_until(project, "orders_api_b") is None
    project.keyform("plan", "--detailed-exitcode", code=0)
    verified = project.keyform("verify")
    assert "FAIL" not in verified.stdout
    assert_no_password_leaked(project, [old["password"]])


def test_after_the_overlap_the_old_password_is_cleared_and_a_rotation_flips_back(project: Project) -> None:
    project.edit(with_overlap("1s"))
    project.keyform("apply", "--auto-approve")
    first = project.sink()[ADDRESS]
    project.keyform("rotate", ADDRESS, "--auto-approve")
    second = project.sink()[ADDRESS]

    revoke = wait_for_changes(project)
    project.keyform("apply", "--auto-approve")

    assert "login orders_api_a" in revoke and "stops working now" in revoke
    assert not logs_in(project, "orders_api_a", first["password"])
    assert logs_in(project, "orders_api_b", second["password"])
    project.keyform("plan", "--detailed-exitcode", code=0)
    project.keyform("rotate", ADDRESS, "--auto-approve")
    third = project.sink()[ADDRESS]
    assert third["user"] == "orders_api_a" and logs_in(project, "orders_api_a", third["password"])
    assert logs_in(project, "orders_api_b", second["password"])
    assert_no_password_leaked(project, [first["password"], second["password"]])


def test_switching_to_overlap_and_back_is_a_breaking_plan_that_names_the_logins(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    plain = project.sink()[ADDRESS]
    project.edit(with_overlap("1h"))

    to_overlap = project.keyform("plan", "--detailed-exitcode", code=2)
    project.keyform("apply", "--auto-approve")

    assert "login orders_api stops working at once, the new password logs in as orders_api_a" in to_overlap.stdout
    assert not logs_in(project, "orders_api", plain["password"])
    overlapping = project.sink()[ADDRESS]
    assert overlapping["user"] == "orders_api_a" and logs_in(project, "orders_api_a", overlapping["password"])
    project.keyform("plan", "--detailed-exitcode", code=0)

    project.edit(lambda d: d["login_roles"]["orders_api"]["password"].pop("rotation_overlap"))
    back = project.keyform("plan", "--detailed-exitcode", code=2)
    project.keyform("apply", "--auto-approve")

    assert "logins orders_api_a and orders_api_b are dropped and stop working at once" in back.stdout
    entry = project.sink()[ADDRESS]
    assert entry["user"] == "orders_api" and logs_in(project, "orders_api", entry["password"])
    assert project.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'orders_api_%%'") == []
    project.keyform("plan", "--detailed-exitcode", code=0)
    assert_no_password_leaked(project, [plain["password"], overlapping["password"]])


@pytest.mark.parametrize(
    "out_of_band",
    ["DROP ROLE orders_api_b", "ALTER ROLE orders_api_b CONNECTION LIMIT 99", "GRANT analysts TO orders_api_a"],
)
def test_a_login_changed_out_of_band_is_drift_and_apply_repairs_it(project: Project, out_of_band: str) -> None:
    project.edit(with_overlap("1h"))
    project.keyform("apply", "--auto-approve")
    project.sql(out_of_band)

    drift = project.keyform("plan", "--detailed-exitcode", code=2)
    project.keyform("apply", "--auto-approve")

    assert "logins" in drift.stdout
    project.keyform("plan", "--detailed-exitcode", code=0)
    with project.login("orders_api") as api:
        assert api.execute("SELECT current_user").fetchone() == ("orders_api",)


def test_export_shows_the_pair_as_one_login_role_with_its_overlap(project: Project) -> None:
    project.edit(with_overlap("60m"))
    project.keyform("apply", "--auto-approve")

    exported = project.keyform("export").stdout

    assert "rotation_overlap: 1h" in exported and "orders_api_a" not in exported
    shown = project.keyform("show").stdout
    assert "orders_api_a" not in shown and "orders_api_b" not in shown


def test_a_name_too_long_for_its_logins_is_refused_by_validate(project: Project) -> None:
    long = "x" * 62
    project.edit(lambda d: d["login_roles"].update({long: {"password": {"rotation_overlap": "1h"}}}))

    done = project.keyform("validate", code=1)

    assert "keyform.yaml:" in done.stderr and f"logins {long}_a and {long}_b" in done.stderr
    assert "shorten the name to at most 61 characters" in done.stderr


def test_a_declared_role_with_a_logins_name_is_refused_by_validate(project: Project) -> None:
    project.edit(with_overlap("1h"))
    project.edit(lambda d: d["group_roles"].update({"orders_api_b": {}}))

    done = project.keyform("validate", code=1)

    assert "its logins are orders_api_a and orders_api_b, and orders_api_b is declared too" in done.stderr


def test_a_live_role_with_a_logins_name_is_refused_in_one_line(project: Project) -> None:
    project.sql("CREATE ROLE orders_api_b LOGIN")
    project.edit(with_overlap("1h"))

    done = project.keyform("apply", "--auto-approve", code=1)

    assert "role orders_api_b already exists: rename login_roles.orders_api, or rename or drop" in done.stderr
    assert project.sql("SELECT rolname FROM pg_roles WHERE rolname = 'orders_api_a'") == []


def test_deleting_an_overlap_login_role_drops_the_group_and_both_logins(project: Project) -> None:
    project.edit(with_overlap("1h"))
    project.keyform("apply", "--auto-approve")
    project.edit(lambda d: d["login_roles"].pop("orders_api"))

    plan = project.keyform("plan", "--detailed-exitcode", code=2)
    project.keyform("apply", "--auto-approve")

    assert f"- {ADDRESS}" in plan.stdout
    assert project.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'orders_api%%'") == []
    project.keyform("plan", "--detailed-exitcode", code=0)


def test_a_login_whose_membership_another_admin_granted_again_stays_intact(project: Project) -> None:
    """PostgreSQL 16 and later keep one pg_auth_members row per grantor: orders_api_a's membership
    of orders_api granted by keyform and again by another admin is still one membership, and the
    login is still one of the pair (not a broken half that a plan would rebuild)."""
    if int(project.sql("SHOW server_version_num")[0][0]) < 160000:
        pytest.skip("PostgreSQL before 16 keeps one row per membership, whoever granted it")
    project.edit(with_overlap("1h"))
    project.keyform("apply", "--auto-approve")
    project.sql("CREATE ROLE other_admin NOLOGIN")
    project.sql("GRANT orders_api TO other_admin WITH ADMIN OPTION")
    project.sql("GRANT orders_api TO orders_api_a GRANTED BY other_admin")
    rows = "SELECT 1 FROM pg_auth_members WHERE member = 'orders_api_a'::regrole AND roleid = 'orders_api'::regrole"
    assert len(project.sql(rows)) == 2

    plan = project.keyform("plan", "--detailed-exitcode", code=None)
    assert ADDRESS not in plan.stdout, plan.stdout
    assert plan.returncode == 0, plan.stdout + plan.stderr
