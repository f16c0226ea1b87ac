"""keyform's conformance kit against the PostgreSQL provider and the private cluster."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from psycopg import sql

from keyform.testing import ConformanceSuite, Harness, Sample
from tests.pg import Cluster
from tests.providers.postgresql.conftest import drop_test_roles


class PostgresqlHarness(Harness):
    provider_type = "postgresql"
    read_overhead = 4  # 6 statements (SET TRANSACTION and five catalog queries) for the 2 kinds

    def __init__(self, cluster: Cluster, database: str):
        self.cluster, self.database = cluster, database

    def settings(self) -> dict[str, Any]:
        return {"dsn": "${env:DATABASE_URL}"}

    def environment(self) -> dict[str, str]:
        return {"DATABASE_URL": self.cluster.url(self.database)}

    def sample(self) -> Sample:
        return Sample(
            kind="login_roles",
            spec={"member_of": ["readers"], "grants": {"database": ["CONNECT"]}},
            updated={"member_of": ["readers"], "connection_limit": 3, "grants": {"database": ["CONNECT", "TEMP"]}},
            name_format="kit_{}",
            base={"group_roles": {"readers": {"grants": {"schemas": {"public": ["USAGE"]}}}}},
        )

    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        login = sql.SQL("LOGIN" if kind == "login_roles" else "NOLOGIN")
        with self.cluster.connect(self.database) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(name), login))
            for group in spec.get("member_of", ()):
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
            for privilege in spec.get("grants", {}).get("database", ()):
                conn.execute(
                    sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                        sql.SQL(privilege), sql.Identifier(self.database), sql.Identifier(name)
                    )
                )

    def touch(self, address: str) -> None:
        name = address.partition("/")[2]
        with self.cluster.connect(self.database) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 7").format(sql.Identifier(name)))

    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({"dsn": "${env:DATABASE_URL}", "sslmode": 3}, "sslmode")]


class TestPostgresql(ConformanceSuite):
    @pytest.fixture
    def harness(self, pg_cluster: Cluster) -> Iterator[Harness]:
        database = pg_cluster.create_database().rsplit("/", 1)[-1]
        try:
            yield PostgresqlHarness(pg_cluster, database)
        finally:
            drop_test_roles(pg_cluster, database)
