"""The keystone provider passes keyform.testing against a real Keystone (reset before each test)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyform.providers.keystone.client import KeystoneClient
from keyform.providers.keystone.cloud import stamp_name
from keyform.testing import ConformanceSuite, Harness, Sample
from tests.keystone_server import KeystoneServer

CREDENTIAL = {"owner": "kit-owner", "project": "kit", "roles": ["member"], "description": "Kit"}
REPLACED = {**CREDENTIAL, "description": "Kit v2"}
BOOTSTRAPPED = {  # what `keystone-manage bootstrap` made besides its immutable roles: keyform runs as its admin
    "projects": {"admin": {"description": "Bootstrap project for initializing the cloud."}},
    "users": {"admin": {"projects": {"admin": ["admin"]}}},
}


class KeystoneHarness(Harness):
    provider_type = "keystone"
    page_size = 2
    read_overhead = 4  # a token, /domains, /role_inferences and /role_assignments (whom each role reaches)

    def __init__(self, keystone: KeystoneServer):
        self.keystone = keystone

    def settings(self) -> dict[str, Any]:
        options = {key: f"${{env:OS_{key.upper()}}}" for key in self.keystone.admin_options()}
        # the test Keystone runs on SQLite, which answers concurrent writes with "database is locked"
        return {**options, "page_size": self.page_size, "concurrency": 1}

    def environment(self) -> dict[str, str]:  # the names settings() and export_settings() reference
        return {f"OS_{key.upper()}": value for key, value in self.keystone.admin_options().items()}

    def sample(self) -> Sample:
        return Sample(
            kind="application_credentials",
            spec=CREDENTIAL,
            updated=REPLACED,  # Keystone can't update a credential: a change replaces it
            replaced=REPLACED,
            base={
                "projects": {"kit": {"description": "The kit's project"}},
                "users": {"kit-owner": {"projects": {"kit": ["member"]}}},
            },
        )

    def preexisting(self) -> dict[str, dict[str, dict[str, Any]]]:
        return BOOTSTRAPPED  # declared, so adopted: never planned for deletion

    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        self._create(name, spec)  # named without keyform's creation stamp: not keyform's

    def touch(self, address: str) -> None:
        """Rotate the credential behind keyform's back: a successor under keyform's naming, the old one deleted."""
        name = address.partition("/")[2]
        with closing(KeystoneClient(self.keystone.admin_options())) as client:
            owner = self._id(client, "/users", "users", CREDENTIAL["owner"])
            items = client.listing(f"/users/{owner}/application_credentials", "application_credentials", address)
        old = [item for item in items if item["name"].startswith(f"{name}@")]
        self._create(stamp_name(name, datetime.now(UTC) + timedelta(seconds=1)), CREDENTIAL)
        with closing(KeystoneClient(self.keystone.admin_options())) as client:
            for item in old:
                client.delete_application_credential(owner, item["id"], address)

    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({**self.settings(), "password": "written-in-the-file"}, "provider.password")]

    def _create(self, name: str, spec: Mapping[str, Any]) -> None:
        with closing(KeystoneClient(self.keystone.admin_options())) as client:
            owner = self._id(client, "/users", "users", spec["owner"])
            project = self._id(client, "/projects", "projects", spec["project"])
            body = {
                "name": name,
                "description": spec.get("description", ""),
                "roles": [{"name": role} for role in spec["roles"]],
            }
            client.create_application_credential(
                user_id=owner, project_id=project, body={"application_credential": body}, what=name
            )

    @staticmethod
    def _id(client: KeystoneClient, path: str, key: str, name: str) -> str:
        return str(next(item["id"] for item in client.listing(path, key, key) if item["name"] == name))


class TestKeystoneProvider(ConformanceSuite):
    @pytest.fixture
    def harness(self, keystone_session: KeystoneServer) -> Iterator[Harness]:
        keystone_session.reset()
        yield KeystoneHarness(keystone_session)
