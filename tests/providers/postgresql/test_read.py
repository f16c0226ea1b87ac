"""The catalog read: the same number of queries for 10 roles and for 1,000; built-in, superuser
and keyform's own roles never appear; the example validates without a server."""

from __future__ import annotations

import subprocess
import sys

from keyform.providers.postgresql import PostgresqlProvider
from tests.providers.postgresql.conftest import EXAMPLE, Project

MANY_ROLES = """
DO $$ BEGIN
  FOR i IN 1..%(count)s LOOP
    EXECUTE format('CREATE ROLE %%I LOGIN', 'svc_' || i);
    EXECUTE format('COMMENT ON ROLE %%I IS %%L', 'svc_' || i, 'managed by keyform');
    EXECUTE format('GRANT SELECT (name) ON employees TO %%I', 'svc_' || i);
    EXECUTE format('GRANT SELECT ON orders TO %%I', 'svc_' || i);
  END LOOP;
END $$;
"""


def queries_for_a_read(project: Project) -> tuple[int, int]:
    provider = PostgresqlProvider({"dsn": project.url})
    try:
        live = provider.read()
        return provider.requests_sent(), sum(address.startswith("login_roles/svc_") for address in live)
    finally:
        provider.close()


def test_a_read_sends_as_many_queries_for_1000_roles_as_for_10(project: Project) -> None:
    project.sql(MANY_ROLES % {"count": 10})
    few = queries_for_a_read(project)
    project.sql(MANY_ROLES.replace("1..", "11..") % {"count": 1000})
    many = queries_for_a_read(project)

    assert few[1] == 10 and many[1] == 1000
    assert few[0] == many[0]


def test_a_read_leaves_out_builtin_superuser_and_its_own_roles(project: Project) -> None:
    project.sql("CREATE ROLE root_too SUPERUSER")
    provider = PostgresqlProvider({"dsn": project.url})
    try:
        live = provider.read()
    finally:
        provider.close()
    names = {address.partition("/")[2] for address in live}
    assert not {name for name in names if name.startswith("pg_")}
    assert "root_too" not in names and project.cluster.user not in names


def test_the_example_validates() -> None:
    command = [sys.executable, "-m", "keyform", "-C", str(EXAMPLE.parent), "validate"]
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/app"}

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "valid (3 group roles, 4 login roles)" in done.stdout
