"""The `keyform` command against the real Keystone: a working copy of examples/keystone, its outputs, the API."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from keyform.cli import main
from keyform.providers.keystone.client import KeystoneClient, TokenFacts
from keyform.providers.keystone.cloud import KeystoneCloud
from tests.keystone_server import KeystoneServer

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "keystone" / "keyform.yaml"
CREDENTIALS = [
    "application_credentials/payments-ci-deploy",
    "application_credentials/payments-ci-staging",
    "application_credentials/warehouse-loader",
]


SERVICES = ("compute", "image", "object-store")  # what the example's access rules name


def add_services(keystone: KeystoneServer, types: tuple[str, ...] = SERVICES) -> None:
    """Register catalog services, as a real cloud has them (the test Keystone has only identity)."""
    client = KeystoneClient(keystone.admin_options())
    try:
        for service_type in types:
            client.create("services", "service", {"type": service_type, "name": service_type}, "test")
    finally:
        client.close()


@dataclass
class Workdir:
    """A copy of the example against one Keystone, and every output keyform produced there."""

    keystone: KeystoneServer
    path: Path
    outputs: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # every secret value the sink ever held

    @classmethod
    def of_example(cls, keystone: KeystoneServer, path: Path) -> Workdir:
        path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLE, path / "keyform.yaml")
        work = cls(keystone, path)
        # The test Keystone runs on SQLite, which answers concurrent writes with "database is locked"
        work.edit("provider", "concurrency", value=1)
        return work

    @property
    def env(self) -> dict[str, str]:
        options = self.keystone.admin_options()
        return {f"OS_{key.upper()}": value for key, value in options.items()}

    def keyform(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(
            main, ["-C", str(self.path), *args], env={**self.env, **(env or {})}, catch_exceptions=False
        )
        self.outputs.append(result.stdout + result.stderr)
        return result

    def document(self) -> dict:
        return yaml.safe_load((self.path / "keyform.yaml").read_text())

    def write(self, document: dict) -> None:
        (self.path / "keyform.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    def edit(self, *keys: str, value: object) -> None:
        document = self.document()
        target = document
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
        self.write(document)

    def secrets(self) -> dict:
        path = self.path / ".keyform" / "secrets.json"
        document = json.loads(path.read_text()) if path.exists() else {}
        for entry in document.values():
            for part in (entry, entry.get("retiring") or {}):
                if part.get("application_credential_secret"):
                    self.seen.add(part["application_credential_secret"])
        return document

    def secret_values(self) -> list[str]:
        self.secrets()
        return sorted(self.seen)

    def cloud(self) -> KeystoneCloud:
        return KeystoneCloud(KeystoneClient(self.keystone.admin_options()))

    def login(self, entry: dict) -> TokenFacts | None:
        """The token facts of a login with a sink entry's credential, or None when Keystone refuses it."""
        from keyform.providers.keystone.client import application_credential_login

        return application_credential_login(
            self.keystone.url, entry["application_credential_id"], entry["application_credential_secret"]
        )

    def files_text(self) -> list[str]:
        """Every file keyform wrote in the working copy except the sink itself."""
        sink = {self.path / ".keyform" / "secrets.json"}
        return [p.read_text(errors="replace") for p in self.path.rglob("*") if p.is_file() and p not in sink]
