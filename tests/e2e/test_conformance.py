"""The keyform provider passes keyform.testing against the real `keyform server`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from keyform.providers.http import ApiClient
from keyform.providers.keyform.kinds import credential_attributes
from keyform.testing import ConformanceSuite, Harness, Sample
from tests.e2e.conftest import OWNER

READER = {"permissions": {"employees": ["read"]}, "attributes": ["first_name"]}


class KeyformHarness(Harness):
    provider_type = "keyform"
    page_size = 2
    read_overhead = 1  # GET /v1/whoami: the identity keyform runs as

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def settings(self) -> dict[str, Any]:
        return {"url": "${env:KEYFORM_URL}", "token": "${env:KEYFORM_TOKEN}", "page_size": self.page_size}

    def environment(self) -> dict[str, str]:
        return {"KEYFORM_URL": self.url, "KEYFORM_TOKEN": self.token}

    def sample(self) -> Sample:
        return Sample(
            kind="credentials",
            spec={"integration": "Kit", "roles": ["reader"]},
            updated={"integration": "Kit v2", "roles": ["reader"]},
            base={
                "roles": {"reader": READER},
                "users": {OWNER: {"first_name": "Olivia", "last_name": "Owner", "role": "account_owner"}},
            },
        )

    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        assert kind == "credentials"
        with self._client() as client:
            client.request("POST", "/v1/credentials", what=name, json={"name": name, **credential_attributes(spec)})

    def touch(self, address: str) -> None:
        name = address.partition("/")[2]
        with self._client() as client:
            items = client.paginate("/v1/credentials", what="credentials", page_size=500)
            item = next(item for item in items if item["name"] == name)
            body = {"enabled": not item["enabled"]}
            client.request("PATCH", f"/v1/credentials/{item['id']}", what=name, json=body, if_match=item["etag"])

    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({"url": "not a url", "token": "${env:KEYFORM_TOKEN}"}, "provider.url")]

    def _client(self) -> Any:
        from contextlib import closing

        return closing(ApiClient(self.url, self.token))


class TestKeyformProvider(ConformanceSuite):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[Harness]:
        from keyform.server import running_server

        with running_server(tmp_path / "credentials.db", init_owner=OWNER) as server:
            assert server.owner_token is not None
            yield KeyformHarness(server.url, server.owner_token)
