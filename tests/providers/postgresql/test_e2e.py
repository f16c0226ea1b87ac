"""The PostgreSQL example through the real `keyform` command against a real cluster: apply, no
changes after, each delivered password sees exactly its grants, drift, rotation, deletes, and no
password anywhere but the sink."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.providers.postgresql.conftest import Project

LOGINS = ("orders_api", "reporting", "ana", "paula")


def passwords(project: Project) -> list[str]:
    return [entry["password"] for entry in project.sink().values() if entry.get("password")]


def assert_no_password_leaked(project: Project, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    """No password the sink ever held is in any command's output or any file but the sink."""
    secrets = [*passwords(project), *extra]
    assert secrets
    files = [p for p in project.workdir.rglob("*") if p.is_file() and p.name != "secrets.json"]
    for text in [*project.outputs, *(p.read_text(errors="replace") for p in files)]:
        for secret in secrets:
            assert secret not in text


def test_apply_creates_the_roles_then_a_plan_is_empty_and_each_password_sees_its_grants(project: Project) -> None:
    project.keyform("apply", "--auto-approve")

    project.keyform("plan", "--detailed-exitcode", code=0)
    sink = project.sink()
    assert sorted(sink) == sorted(f"login_roles/{name}" for name in LOGINS)
    assert {key for key in sink["login_roles/ana"] if key != "password"} >= {"host", "port", "dbname", "user"}
    with project.login("ana") as ana:
        assert ana.execute("SELECT name, department FROM employees").fetchall() == [("Ada", "R&D")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ana.execute("SELECT salary FROM employees")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ana.execute("SELECT iban FROM employees")
    with project.login("paula") as paula:
        assert paula.execute("SELECT salary, iban FROM employees").fetchone() is not None
    with project.login("orders_api") as api:
        api.execute("INSERT INTO orders (customer_id, total) VALUES (2, 5)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api.execute("SELECT name FROM employees")
    with project.login("reporting") as reporting, pytest.raises(psycopg.errors.InsufficientPrivilege):
        reporting.execute("DELETE FROM orders")
    verified = project.keyform("verify")
    assert "FAIL" not in verified.stdout and "login_roles/ana: logs in and holds its" in verified.stdout
    assert_no_password_leaked(project)


def test_verify_checks_what_a_role_holds_through_its_groups_and_no_undeclared_sensitive_column(
    project: Project,
) -> None:
    project.keyform("apply", "--auto-approve")
    verified = project.keyform("verify")
    assert "login_roles/ana: logs in and holds its 6 declared grants, its groups' included" in verified.stdout

    project.sql("REVOKE SELECT (department) ON employees FROM analysts")
    project.sql("GRANT SELECT (salary) ON employees TO analysts")
    failed = project.keyform("verify", code=1)

    line = next(line for line in failed.stdout.splitlines() if "login_roles/ana" in line)
    assert line.endswith(
        "login_roles/ana: logs in but lacks column:public.employees.department:SELECT;"
        " can read undeclared sensitive column:public.employees.salary:SELECT"
    )
    assert "login_roles/paula: logs in and holds" in failed.stdout  # payroll's table grant covers salary
    assert_no_password_leaked(project)


def test_the_passwords_are_stored_as_scram_verifiers(project: Project) -> None:
    project.keyform("apply", "--auto-approve")

    stored = project.sql("SELECT rolpassword FROM pg_authid WHERE rolname = ANY(%s)", list(LOGINS))
    assert len(stored) == 4 and all(password.startswith("SCRAM-SHA-256$4096:") for (password,) in stored)
    comments = project.sql("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'ana'")
    assert comments[0][0].startswith("managed by keyform")


def test_an_out_of_band_grant_is_drift_and_apply_revokes_it(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    project.sql("GRANT SELECT (salary) ON employees TO analysts")

    drift = project.keyform("plan", "--detailed-exitcode", code=2)
    assert "column:public.employees.salary:SELECT" in drift.stdout
    project.keyform("apply", "--auto-approve")

    with project.login("ana") as ana, pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.execute("SELECT salary FROM employees")
    project.keyform("plan", "--detailed-exitcode", code=0)


def test_a_new_grant_on_a_sensitive_column_is_an_escalation(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    project.edit(
        lambda d: d["group_roles"]["analysts"]["grants"]["columns"]["public.employees"]["SELECT"].append("iban")
    )

    plan = project.keyform("plan", "--detailed-exitcode", code=2)

    assert "gains sensitive column public.employees.iban" in plan.stdout
    assert "escalation" in plan.stdout.lower()


def test_immediate_rotation_ends_the_old_password_at_once(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    old = project.sink()["login_roles/ana"]["password"]

    planfile = str(project.workdir / "rotate-plan.json")  # scanned for passwords with every other file
    plan = project.keyform("plan", "--replace", "login_roles/ana", "--target", "login_roles/ana", "--out", planfile)
    assert "stops working at once" in plan.stdout and "sessions already open stay connected" in plan.stdout
    project.keyform("rotate", "login_roles/ana", "--auto-approve")

    new = project.sink()["login_roles/ana"]["password"]
    assert new != old
    with pytest.raises(psycopg.OperationalError):
        project.login("ana", old).close()
    with project.login("ana") as ana:
        assert ana.execute("SELECT 1").fetchone() == (1,)
    assert_no_password_leaked(project, [old])


def test_deleting_a_role_that_owns_objects_is_refused_in_one_line(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    project.sql("GRANT CREATE ON SCHEMA public TO reporting")
    project.sql("SET ROLE reporting; CREATE TABLE report_cache (id int); RESET ROLE")
    project.keyform("apply", "--auto-approve")  # revokes the out-of-band CREATE, keeps the table
    project.edit(lambda d: d["login_roles"].pop("reporting"))

    refused = project.keyform("apply", "--auto-approve", code=1)

    error = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "login_roles/reporting owns table report_cache" in error[0]
    assert "reassign_owned_to" in error[0]
    assert project.sql("SELECT 1 FROM pg_roles WHERE rolname = 'reporting'") == [(1,)]


def test_deleting_a_role_that_holds_privileges_keyform_does_not_manage_is_refused_in_one_line(
    project: Project,
) -> None:
    project.keyform("apply", "--auto-approve")
    project.sql("CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
    project.sql("GRANT EXECUTE ON FUNCTION answer() TO reporting")
    project.edit(lambda d: d["login_roles"].pop("reporting"))

    refused = project.keyform("plan", code=1)

    assert refused.stderr.splitlines() == [
        "Error: unsafe plan: login_roles/reporting owns or holds privileges on function answer(): DROP ROLE would "
        "fail; set provider.reassign_owned_to to a role that takes them over (REASSIGN OWNED, then DROP OWNED), or "
        "move them first (--allow-unsafe does not override this)"
    ]


def test_deleting_a_role_that_owns_objects_reassigns_them_when_configured(project: Project) -> None:
    project.keyform("apply", "--auto-approve")
    project.sql("GRANT CREATE ON SCHEMA public TO reporting")
    project.sql("SET ROLE reporting; CREATE TABLE report_cache (id int); RESET ROLE")
    project.sql("CREATE ROLE app_owner NOLOGIN")

    def delete_and_reassign(document: dict) -> None:
        document["login_roles"].pop("reporting")
        document["provider"]["reassign_owned_to"] = "app_owner"

    project.edit(delete_and_reassign)
    text = project.keyform("plan").stdout
    changes = json.loads(project.keyform("plan", "--format", "json").stdout)["changes"]
    project.keyform("apply", "--auto-approve")

    said = "login_roles/reporting owns table report_cache: reassigned to app_owner (provider.reassign_owned_to)"
    assert said in text
    risks = [risk for change in changes if change["address"] == "login_roles/reporting" for risk in change["risks"]]
    assert {"category": "breaking", "message": said} in risks

    assert project.sql("SELECT 1 FROM pg_roles WHERE rolname = 'reporting'") == []
    owner = project.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'report_cache'")
    assert owner == [("app_owner",)]


def test_deleting_a_role_that_owns_objects_in_another_database_is_refused_even_with_reassign(
    project: Project,
) -> None:
    project.keyform("apply", "--auto-approve")
    other = project.cluster.create_database().rsplit("/", 1)[-1]
    try:
        with project.cluster.connect(other) as conn:
            conn.execute("GRANT CREATE ON SCHEMA public TO reporting")
            conn.execute("SET ROLE reporting; CREATE TABLE elsewhere (id int); RESET ROLE")
        project.sql("CREATE ROLE app_owner NOLOGIN")

        def delete_and_reassign(document: dict) -> None:
            document["login_roles"].pop("reporting")
            document["provider"]["reassign_owned_to"] = "app_owner"

        project.edit(delete_and_reassign)
        refused = project.keyform("plan", code=1)

        assert refused.stderr.splitlines() == [
            f"Error: unsafe plan: login_roles/reporting owns objects or holds privileges in database {other}: "
            f"DROP ROLE would fail and keyform reaches only database {project.database}; there, run REASSIGN OWNED "
            "BY reporting TO another_role; DROP OWNED BY reporting (--allow-unsafe does not override this)"
        ]
    finally:
        with project.cluster.connect(other) as conn:
            conn.execute("DROP OWNED BY reporting")
        project.cluster.drop_database(other)


@pytest.mark.parametrize("output_format", ["text", "json", "markdown", "junit"])
def test_a_role_attribute_is_an_escalation_in_every_plan_format(project: Project, output_format: str) -> None:
    project.keyform("apply", "--auto-approve")
    project.edit(lambda d: d["login_roles"]["reporting"].update({"attributes": ["CREATEROLE"]}))

    plan = project.keyform("plan", "--format", output_format, "--detailed-exitcode", code=2)

    assert "login_roles/reporting: gains role attribute CREATEROLE" in plan.stdout
    assert "escalation" in plan.stdout.lower()
