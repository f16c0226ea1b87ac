"""keyform's conformance kit against the bundled token store."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
from keyform_tokenstore.server import running_server

from keyform.testing import ConformanceSuite, Harness, Sample


class TokenStoreHarness(Harness):
    provider_type = "tokenstore"
    page_size = 2

    def __init__(self, url: str, admin: str):
        self.url, self.admin = url, admin

    def settings(self) -> dict[str, Any]:
        return {"url": "${env:TOKENSTORE_URL}", "token": "${env:TOKENSTORE_TOKEN}", "page_size": self.page_size}

    def environment(self) -> dict[str, str]:
        return {"TOKENSTORE_URL": self.url, "TOKENSTORE_TOKEN": self.admin}

    def sample(self) -> Sample:
        return Sample(
            kind="tokens",
            spec={"team": "payments", "scopes": ["invoices:read"]},
            updated={"team": "payments", "scopes": ["invoices:read", "invoices:write"]},
            replaced={"team": "billing", "scopes": ["invoices:read"]},
            base={"teams": {"payments": {"description": "Payments"}, "billing": {}}},
        )

    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        body = {"name": name, **spec, "secret": secrets.token_urlsafe(30), "secret_id": "out-of-band"}
        self._call("POST", f"/{kind}", json=body)

    def touch(self, address: str) -> None:
        kind, _, name = address.partition("/")
        items = self._call("GET", f"/{kind}", params={"limit": 1000})["items"]
        item = next(item for item in items if item["name"] == name)
        scopes = [*item["scopes"], "audit:read"]
        self._call("PATCH", f"/{kind}/{name}", json={"scopes": scopes}, headers={"If-Match": item["etag"]})

    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({"url": "ftp://tokens", "token": "${env:TOKENSTORE_TOKEN}"}, "provider.url")]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.admin}", **kwargs.pop("headers", {})}
        response = requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()


class TestTokenStore(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Iterator[Harness]:
        admin = secrets.token_urlsafe(24)
        with running_server(admin) as url:
            yield TokenStoreHarness(url, admin)
