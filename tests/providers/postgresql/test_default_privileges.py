"""Declared default privileges (ALTER DEFAULT PRIVILEGES) through the real `keyform` command: a
table the owner creates later is readable by the grantee, drift is seen and revoked, removal revokes."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.providers.postgresql.conftest import Project

DEFAULT = "default:app_owner.public.tables:SELECT"


def declare_owner(document: dict[str, Any]) -> None:
    """A group role that creates the app's tables later on."""
    document["group_roles"]["app_owner"] = {"grants": {"schemas": {"public": ["USAGE", "CREATE"]}}}


def declare_default(document: dict[str, Any], privileges: list[str] = ["SELECT"]) -> None:  # noqa: B006
    """Analysts read every table app_owner creates in public from now on."""
    grants = document["group_roles"]["analysts"]["grants"]
    grants["default_privileges"] = {"app_owner": {"public": {"tables": privileges}}}


def create_later(project: Project, table: str) -> None:
    project.sql(f"SET ROLE app_owner; CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (1); RESET ROLE")


def default_acl(project: Project) -> list[tuple[Any, ...]]:
    return project.sql("SELECT defaclobjtype, defaclacl::text FROM pg_default_acl")


@pytest.fixture
def applied(project: Project) -> Project:
    """The example with app_owner, then analysts' default privileges on app_owner's tables, applied."""
    project.edit(declare_owner)
    project.keyform("apply", "--auto-approve")
    project.edit(declare_default)
    return project


def test_apply_sets_default_privileges_and_a_later_table_is_readable(applied: Project) -> None:
    plan = applied.keyform("plan", "--detailed-exitcode", code=2)
    assert DEFAULT in plan.stdout
    applied.keyform("apply", "--auto-approve")

    applied.keyform("plan", "--detailed-exitcode", code=0)
    create_later(applied, "later")
    with applied.login("ana") as ana:
        assert ana.execute("SELECT id FROM later").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ana.execute("INSERT INTO later VALUES (2)")


def test_a_new_write_default_privilege_is_an_escalation(applied: Project) -> None:
    applied.edit(lambda d: declare_default(d, ["SELECT", "INSERT"]))

    plan = applied.keyform("plan", "--format", "json", "--detailed-exitcode", code=2)

    assert '"message": "group_roles/analysts' in plan.stdout
    assert "gains default:app_owner.public.tables:INSERT" in plan.stdout
    assert '"category": "escalation"' in plan.stdout


def test_an_out_of_band_default_privilege_is_drift_and_apply_revokes_it(applied: Project) -> None:
    applied.keyform("apply", "--auto-approve")
    applied.sql("ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT DELETE ON TABLES TO analysts")

    drift = applied.keyform("plan", "--detailed-exitcode", code=2)
    assert "default:app_owner.public.tables:DELETE" in drift.stdout
    applied.keyform("apply", "--auto-approve")

    applied.keyform("plan", "--detailed-exitcode", code=0)
    create_later(applied, "later")
    with applied.login("ana") as ana, pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.execute("DELETE FROM later")


def test_removing_default_privileges_revokes_them(applied: Project) -> None:
    applied.keyform("apply", "--auto-approve")
    applied.edit(lambda d: d["group_roles"]["analysts"]["grants"].pop("default_privileges"))

    plan = applied.keyform("plan", "--detailed-exitcode", code=2)
    assert f"loses {DEFAULT}" in plan.stdout
    applied.keyform("apply", "--auto-approve")

    assert default_acl(applied) == []
    create_later(applied, "later")
    with applied.login("ana") as ana, pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.execute("SELECT id FROM later")
    applied.keyform("plan", "--detailed-exitcode", code=0)


def test_default_privileges_in_a_schema_that_does_not_exist_are_refused_in_one_line(applied: Project) -> None:
    applied.edit(
        lambda d: d["group_roles"]["analysts"]["grants"].update(
            {"default_privileges": {"app_owner": {"pubic": {"tables": ["SELECT"], "sequences": ["USAGE"]}}}}
        )
    )

    refused = applied.keyform("apply", "--auto-approve", code=1)

    assert refused.stderr.splitlines() == [
        "Error: unsafe plan: group_roles/analysts: default privileges in schema pubic, which does not exist in "
        f"database {applied.database}: check the name in grants.default_privileges, or create it first "
        "(--allow-unsafe does not override this)"
    ]
    assert default_acl(applied) == []


def test_deleting_a_role_with_default_privileges_revokes_them_then_drops_it(applied: Project) -> None:
    applied.edit(lambda d: d["login_roles"]["reporting"].update(analysts_default(d)))
    applied.keyform("apply", "--auto-approve")
    assert len(default_acl(applied)) == 1
    applied.edit(lambda d: d["login_roles"].pop("reporting"))

    applied.keyform("apply", "--auto-approve")

    assert applied.sql("SELECT 1 FROM pg_roles WHERE rolname = 'reporting'") == []
    assert default_acl(applied) == []


def analysts_default(document: dict[str, Any]) -> dict[str, Any]:
    """reporting's spec with the default privileges analysts have, analysts' taken away."""
    default = document["group_roles"]["analysts"]["grants"].pop("default_privileges")
    return {"grants": {"default_privileges": default}}


def test_export_writes_default_privileges_that_plan_to_no_changes(applied: Project) -> None:
    applied.keyform("apply", "--auto-approve")

    exported = applied.keyform("export").stdout
    (applied.workdir / "keyform.yaml").write_text(exported)

    assert "default_privileges:" in exported and "app_owner:" in exported
    applied.keyform("plan", "--detailed-exitcode", code=0)


def test_drift_in_a_schema_whose_name_has_a_dot_is_revoked(applied: Project) -> None:
    applied.keyform("apply", "--auto-approve")
    applied.sql('CREATE SCHEMA "odd.schema"')
    applied.sql('ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA "odd.schema" GRANT SELECT ON TABLES TO analysts')

    drift = applied.keyform("plan", "--detailed-exitcode", code=2)
    assert "default:app_owner.odd.schema.tables:SELECT" in drift.stdout
    applied.keyform("apply", "--auto-approve")

    assert default_acl(applied) == [("r", "{analysts=r/app_owner}")]
    applied.keyform("plan", "--detailed-exitcode", code=0)
