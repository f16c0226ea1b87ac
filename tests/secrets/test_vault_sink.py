"""The vault sink against Vault's documented HTTP API (KV v2, sys/health, auth/token/lookup-self), mocked."""

import json
import secrets as random
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.model import PluginConfig
from keyform.secrets import make_sink
from keyform.secrets.vault_sink import VaultSink

VAULT = "http://127.0.0.1:8200"
TOKEN = "hvs.CAESIJtesttoken" + random.token_urlsafe(12)
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HEALTHY = {
    "initialized": True,
    "sealed": False,
    "standby": False,
    "performance_standby": False,
    "replication_performance_mode": "disabled",
    "replication_dr_mode": "disabled",
    "server_time_utc": 1516639589,
    "version": "1.15.0",
    "cluster_name": "vault-cluster",
    "cluster_id": "3e8b3fec",
}
LOOKUP = {"data": {"accessor": "8609694a", "display_name": "token", "policies": ["default", "keyform"], "ttl": 2764790}}
WRITTEN = {
    "data": {
        "created_time": "2026-01-02T03:04:06.1Z",
        "custom_metadata": None,
        "deletion_time": "",
        "destroyed": False,
        "version": 1,
    }
}


def api_key(address="users/tom.becker@acme.example"):
    return GeneratedSecret(address, "api_key", {"api_key": "kfk_" + random.token_urlsafe(30)}, "key_1", WHEN)


def client_secret(address="credentials/payroll-sync"):
    fields = {"client_id": "kfc_abc", "client_secret": "kfs_" + random.token_urlsafe(30)}
    return GeneratedSecret(address, "client_credentials", fields, "sec_1", WHEN)


def sink(**kwargs):
    return VaultSink(VAULT, TOKEN, **{"prefix": "keyform", **kwargs})


@responses.activate
def test_preflight_checks_health_then_the_token():
    responses.get(f"{VAULT}/v1/sys/health", json=HEALTHY)
    responses.get(f"{VAULT}/v1/auth/token/lookup-self", json=LOOKUP)
    sink().preflight()
    health, lookup = responses.calls
    assert "standbyok=true" in health.request.url and "perfstandbyok=true" in health.request.url
    assert lookup.request.headers["X-Vault-Token"] == TOKEN
    assert "Authorization" not in lookup.request.headers


@responses.activate
@pytest.mark.parametrize(
    ("status", "problem"), [(503, "is sealed"), (501, "is not initialized"), (500, "is not healthy")]
)
def test_preflight_refuses_an_unhealthy_vault(status, problem):
    responses.get(f"{VAULT}/v1/sys/health", status=status, json={**HEALTHY, "sealed": status == 503})
    with pytest.raises(SecretSinkError) as error:
        sink().preflight()
    assert (
        str(error.value) == f"Vault at {VAULT} {problem} (GET /v1/sys/health: HTTP {status}): fix Vault before applying"
    )


@responses.activate
def test_preflight_refuses_an_invalid_token_without_showing_it():
    responses.get(f"{VAULT}/v1/sys/health", json=HEALTHY)
    responses.get(f"{VAULT}/v1/auth/token/lookup-self", status=403, json={"errors": ["permission denied"]})
    with pytest.raises(SecretSinkError) as error:
        sink().preflight()
    assert str(error.value) == (
        f"Vault at {VAULT} refused secrets.token (GET /v1/auth/token/lookup-self: HTTP 403 (permission denied)): "
        "the token is invalid or expired; log in again"
    )
    assert TOKEN not in str(error.value)


@responses.activate
def test_preflight_names_an_unreachable_vault():
    with pytest.raises(
        SecretSinkError, match=rf"Vault: can't reach Vault at {VAULT} \(ConnectionError\): check secrets.url"
    ):
        sink().preflight()


@responses.activate
def test_deliver_writes_one_kv_v2_secret_per_address_with_encoded_segments(capsys):
    user, credential = api_key(), client_secret()
    user_url = f"{VAULT}/v1/secret/data/keyform/users/tom.becker%40acme.example"
    responses.post(user_url, json=WRITTEN)
    responses.post(f"{VAULT}/v1/secret/data/keyform/credentials/payroll-sync", json=WRITTEN)
    target = sink()
    target.deliver(user)
    target.deliver(credential)
    first, second = responses.calls
    assert first.request.url == user_url
    assert first.request.headers["X-Vault-Token"] == TOKEN
    assert json.loads(first.request.body) == {
        "data": {
            "type": "api_key",
            "api_key": user.fields["api_key"],
            "secret_id": "key_1",
            "created_at": "2026-01-02T03:04:05Z",
        }
    }
    assert json.loads(second.request.body)["data"]["client_secret"] == credential.fields["client_secret"]
    assert target.path_for(user.address) == "keyform/users/tom.becker@acme.example"  # what Vault stores
    captured = capsys.readouterr()
    for value in (*user.values(), *credential.values(), TOKEN):
        assert value not in captured.out + captured.err


@responses.activate
def test_deliver_failure_names_address_and_status_never_the_secret_or_token():
    secret = api_key()
    responses.post(
        f"{VAULT}/v1/kv/team/data/users/tom.becker%40acme.example",
        status=403,
        json={"errors": ["1 error occurred:\n\t* permission denied\n\n"]},
    )
    with pytest.raises(SecretSinkError) as error:
        VaultSink(VAULT, TOKEN, mount="/kv/team/").deliver(secret)
    message = str(error.value)
    assert message.startswith(
        "users/tom.becker@acme.example: Vault refused POST "
        "/v1/kv/team/data/users/tom.becker%40acme.example with HTTP 403"
    )
    assert message.endswith(": the token may not write there; grant create and update on that path")
    assert secret.fields["api_key"] not in message and TOKEN not in message


@responses.activate
def test_deliver_timeout_is_a_sink_error():
    import requests

    responses.post(f"{VAULT}/v1/secret/data/keyform/credentials/payroll-sync", body=requests.exceptions.ReadTimeout())
    with pytest.raises(
        SecretSinkError,
        match=r"credentials/payroll-sync: POST /v1/secret/data/keyform/credentials/payroll-sync on Vault .* "
        r"timed out after 30s",
    ):
        sink().deliver(client_secret())


def test_unsafe_paths_and_settings_are_refused():
    with pytest.raises(SecretSinkError, match=r"secrets.prefix 'a/../b' may not contain '.' or '..' segments"):
        VaultSink(VAULT, TOKEN, prefix="a/../b")
    with pytest.raises(SecretSinkError, match=r"secrets\.url 'vault:8200' is not an http\(s\) URL"):
        VaultSink("vault:8200", TOKEN)
    with pytest.raises(SecretSinkError, match=r"secrets.token is empty: set it to \$\{env:VAULT_TOKEN\}"):
        VaultSink(VAULT, "")
    with pytest.raises(SecretSinkError, match="users/a/b@x: can't be stored in Vault: the address must be KIND/NAME"):
        sink().url_for("users/a/b@x")


def test_make_sink_builds_a_vault_sink_and_falls_back_to_vault_token(monkeypatch):
    built = make_sink(
        PluginConfig(
            "vault", {"url": "https://ops:pw@vault.example:8200/", "token": TOKEN, "mount": "secret", "prefix": "kf"}
        ),
        Path(),
    )
    assert isinstance(built, VaultSink)
    assert built.describe() == "https://vault.example:8200 (KV v2 secret/kf/)"
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    from_env = make_sink(PluginConfig("vault", {"url": VAULT}), Path())
    assert from_env.url_for("credentials/x") == f"{VAULT}/v1/secret/data/credentials/x"
    monkeypatch.delenv("VAULT_TOKEN")
    with pytest.raises(SecretSinkError, match=r"secrets\.token is empty"):
        make_sink(PluginConfig("vault", {"url": VAULT}), Path())
