"""Fixtures: moto's IAM/STS emulator as a separate server on a free loopback port, request
authentication on, reset for every test; AWS_* variables point at it only (no real AWS, no network).

What these tests see is AWS's behaviour as moto emulates it; docs/providers/aws-iam.md lists where
moto differs from AWS and how the tests cover keyform's own logic there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from keyform.providers.aws_iam.client import IamClient, Settings

FAKE_ENV = {  # nothing reaches a real account or the instance metadata service
    "AWS_ACCESS_KEY_ID": "AKIAFAKEBOOTSTRAP000",
    "AWS_SECRET_ACCESS_KEY": "fake-bootstrap-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CLEARED = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
BOOTSTRAP_REQUESTS = 3  # create the admin user, its policy, its key; every later request must be signed


@dataclass
class Moto:
    url: str

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()

    def authenticate_after(self, unauthenticated: int) -> None:
        """Moto's INITIAL_NO_AUTH_ACTION_COUNT: the next N requests pass unsigned, then auth is enforced."""
        requests.post(f"{self.url}/moto-api/reset-auth", data=str(unauthenticated), timeout=30).raise_for_status()


@dataclass
class Account:
    """A fresh emulated account with an admin user whose key keyform runs with."""

    url: str
    admin_key_id: str
    admin_secret: str

    def settings(self, **overrides: str) -> Settings:
        return Settings(
            endpoint_url=self.url, access_key_id=self.admin_key_id, secret_access_key=self.admin_secret, **overrides
        )

    def client(self) -> IamClient:
        return IamClient(self.settings())

    def boto(self, service: str = "iam"):
        """A plain boto3 client as the admin: for seeding and checking outside keyform."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.admin_key_id,
            aws_secret_access_key=self.admin_secret,
        )


@contextmanager
def running_moto(log_path: Path, **extra_env: str) -> Iterator[Moto]:
    """`python -m moto.server` on a free loopback port (read from its log), stopped on exit."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MOTO_"))}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**env, **FAKE_ENV, **extra_env},
        )
    try:
        deadline = time.monotonic() + 60  # a bound against a hang, not a timing assertion
        match = None
        while match is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
            time.sleep(0.05)
        if match is None:
            pytest.fail(f"moto server did not start: {log_path.read_text()[-2000:]}")
        yield Moto(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=30)


def fresh_account(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Account:
    """Reset the emulator; bootstrap an admin user with a key; auth on; AWS_* point at it only."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    moto.reset()
    moto.authenticate_after(BOOTSTRAP_REQUESTS)
    boot = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1")
    boot.create_user(UserName="keyform-admin")
    boot.put_user_policy(UserName="keyform-admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
    key = boot.create_access_key(UserName="keyform-admin")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    return Account(moto.url, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    with running_moto(tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield moto


@pytest.fixture
def account(moto_server: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Account:
    """A fresh account per test (moto's reset API), auth on after the admin is bootstrapped."""
    return fresh_account(moto_server, monkeypatch, tmp_path)
