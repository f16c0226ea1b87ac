"""Bad input against a real cluster: one line naming the place and the fix, exit 1, nothing applied."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.providers.postgresql.conftest import Project


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one `Error:` line, and that there is no traceback."""
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def no_roles(project: Project) -> bool:
    return project.sql("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND NOT rolsuper") == []


def test_an_unreachable_server_is_one_line(project: Project) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project.env_extra["DATABASE_URL"] = f"postgresql://someone:hunter2secret@127.0.0.1:{port}/app"

    done = project.keyform("plan", code=1)

    line = error_line(done)
    assert f"can't connect to PostgreSQL at 127.0.0.1:{port}" in line and "DATABASE_URL" in line
    assert "hunter2secret" not in done.stdout + done.stderr


def test_a_wrong_password_is_one_line_without_the_password(project: Project) -> None:
    project.env_extra["DATABASE_URL"] = project.url.replace(project.cluster.password, "wrong-pass-7x9")

    done = project.keyform("apply", "--auto-approve", code=1)

    line = error_line(done)
    assert "password authentication failed" in line and "provider.dsn" in line
    assert "wrong-pass-7x9" not in done.stdout + done.stderr
    assert no_roles(project)


def test_keyforms_role_without_createrole_is_refused_before_anything_applies(project: Project) -> None:
    project.sql("CREATE ROLE limited LOGIN PASSWORD 'limited-pass-1'")
    project.env_extra["DATABASE_URL"] = (
        f"postgresql://limited:limited-pass-1@{project.cluster.host}:{project.cluster.port}/{project.database}"
    )

    done = project.keyform("apply", "--auto-approve", code=1)

    line = error_line(done)
    assert "keyform's role limited lacks CREATEROLE" in line and "ALTER ROLE limited CREATEROLE" in line
    assert project.sql("SELECT rolname FROM pg_roles WHERE rolname = 'ana'") == []


def test_a_grant_on_a_table_that_does_not_exist_is_refused_before_anything_applies(project: Project) -> None:
    project.edit(lambda d: d["group_roles"]["app_readers"]["grants"]["tables"].update({"public.invoices": ["SELECT"]}))

    done = project.keyform("apply", "--auto-approve", code=1)

    line = error_line(done)
    assert "group_roles/app_readers: grants on table or view public.invoices, which does not exist" in line
    assert no_roles(project)


def test_a_column_typo_is_refused_before_anything_applies(project: Project) -> None:
    def typo(document: dict) -> None:
        document["group_roles"]["analysts"]["grants"]["columns"]["public.employees"]["SELECT"] = ["id", "nmae"]

    project.edit(typo)

    done = project.keyform("plan", code=1)

    assert "group_roles/analysts: grants on column public.employees.nmae, which does not exist" in error_line(done)
    assert no_roles(project)


def test_without_psycopg_keyform_says_which_extra_to_install(project: Project) -> None:
    hide = "import sys; sys.modules['psycopg'] = None; from keyform.__main__ import run; sys.argv[0] = 'keyform'; run()"
    command = [sys.executable, "-c", hide, "-C", str(project.workdir), "plan"]

    done = subprocess.run(command, env=project.env(), capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert error_line(done) == "Error: provider.type postgresql needs psycopg, which is not installed: " + (
        "pip install 'keyform[postgresql]'"
    )
