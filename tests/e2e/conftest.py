"""End-to-end fixtures: the real `keyform server` on a free loopback port, the example org, the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyform.cli import main
from keyform.providers.http import ApiClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OWNER = "owner@acme.example"
EXAMPLE_SECRETS = [  # the example's resources that get a secret: its credentials and users with an api_key
    "credentials/bi-reporting",
    "credentials/legacy-export",
    "credentials/payroll-sync",
    "credentials/shift-planner",
    "users/data.manager@acme.example",
    "users/hanna.schmidt@acme.example",
    "users/tom.becker@acme.example",
]


@dataclass
class Org:
    """A running server, a working copy of the example, and every output keyform produced."""

    url: str
    token: str
    workdir: Path
    outputs: list[str] = field(default_factory=list)

    def keyform(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, ["-C", str(self.workdir), *args], input=input, catch_exceptions=False)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def api(self) -> ApiClient:
        return ApiClient(self.url, self.token)

    def find(self, kind: str, name: str) -> dict:
        client = self.api()
        try:
            key = "email" if kind == "users" else "name"
            return next(item for item in client.paginate(f"/v1/{kind}", what=kind, page_size=500) if item[key] == name)
        finally:
            client.close()

    def patch(self, kind: str, name: str, body: dict) -> dict:
        item = self.find(kind, name)
        client = self.api()
        try:
            return client.request(
                "PATCH", f"/v1/{kind}/{item['id']}", what=name, json=body, if_match=item["etag"]
            ).json()
        finally:
            client.close()

    @property
    def secrets_file(self) -> Path:
        return self.workdir / ".keyform" / "secrets.json"

    def secrets(self) -> dict:
        return json.loads(self.secrets_file.read_text()) if self.secrets_file.exists() else {}

    def secret_values(self) -> list[str]:
        return [v for entry in self.secrets().values() for k, v in entry.items() if k in ("api_key", "client_secret")]

    def assert_no_secret_leaked(self, *extra_files: Path) -> None:
        """No generated secret in anything keyform printed or wrote outside the sink."""
        values = self.secret_values()
        assert values, "expected generated secrets to check for"
        texts = [*self.outputs, *(p.read_text() for p in extra_files)]
        for value in values:
            for text in texts:
                assert value not in text


@pytest.fixture
def org(tmp_path, monkeypatch):
    from keyform.server import running_server

    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    with running_server(tmp_path / "credentials.db", init_owner=OWNER) as server:
        monkeypatch.setenv("KEYFORM_URL", server.url)
        monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
        yield Org(server.url, server.owner_token, workdir)
