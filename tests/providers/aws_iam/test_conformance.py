"""The aws-iam provider passes keyform.testing against moto's IAM emulator (auth on, reset per test)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from keyform.testing import ConformanceSuite, Harness, Project, Sample
from tests.providers.aws_iam.conftest import Account, Moto, fresh_account

ADMIN = "keyform-admin"  # the user fresh_account bootstraps


class IamHarness(Harness):
    provider_type = "aws-iam"
    read_overhead = 1  # sts:GetCallerIdentity: the identity keyform runs as
    # AWS has no account-wide access key listing: GetAccountAuthorizationDetails lists users, groups
    # and policies at once, then one ListAccessKeys per user
    listing_per_resource_of = "users"

    def __init__(self, account: Account):
        self.account = account

    def settings(self) -> dict[str, Any]:
        return {
            "endpoint_url": "${env:KIT_AWS_ENDPOINT}",
            "access_key_id": "${env:KIT_AWS_KEY_ID}",
            "secret_access_key": "${env:KIT_AWS_SECRET}",
        }

    def environment(self) -> dict[str, str]:
        return {
            "KIT_AWS_ENDPOINT": self.account.url,
            "KIT_AWS_KEY_ID": self.account.admin_key_id,
            "KIT_AWS_SECRET": self.account.admin_secret,
        }

    def sample(self) -> Sample:
        return Sample(
            kind="users",
            spec={"tags": {"team": "payments"}, "access_key": {"enabled": True}},
            updated={"tags": {"team": "billing"}, "access_key": {"enabled": True}},
        )

    def preexisting(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {"users": {ADMIN: {}}}  # keyform runs as it: declared, so adopted, never planned for deletion

    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        assert kind == "users"
        iam = self.account.boto()
        tags = [{"Key": key, "Value": value} for key, value in (spec.get("tags") or {}).items()]
        iam.create_user(UserName=name, Tags=tags)
        if spec.get("access_key"):
            iam.create_access_key(UserName=name)

    def touch(self, address: str) -> None:
        name = address.partition("/")[2]
        self.account.boto().tag_user(UserName=name, Tags=[{"Key": "touched", "Value": secrets.token_hex(4)}])

    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({"secret_access_key": "written-in-the-file"}, "provider.secret_access_key")]


class TestAwsIamProvider(ConformanceSuite):
    @pytest.fixture
    def harness(self, moto_server: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harness]:
        yield IamHarness(fresh_account(moto_server, monkeypatch, tmp_path))

    def test_a_read_is_one_listing_plus_one_key_listing_per_user(self, project: Project) -> None:
        project.declare({project.name(n): project.sample.spec for n in range(3)})
        project.apply()
        live, sent = project.read()
        users = sum(1 for address in live if address.startswith("users/"))
        assert users == 4  # the kit's three and the admin
        assert sent == 1 + users + IamHarness.read_overhead
