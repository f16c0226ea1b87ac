"""keyform verify against the credential API's documented whoami and token exchange (mocked with responses)."""

import json
import secrets as random
import textwrap

import pytest
import requests
import responses
from click.testing import CliRunner

from keyform.cli import main
from keyform.errors import ProviderError, SecretSinkError
from keyform.model import DesiredState, PluginConfig
from keyform.providers.keyform import KeyformProvider
from keyform.providers.keyform.model import ApiKey, Credential, Organization, Role, User
from keyform.providers.keyform.verify import expectation
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import MASK, Redactor
from keyform.secrets.vault_sink import VaultSink
from keyform.verify import read_sink, verify
from tests.fakes import state as desired

API = "http://127.0.0.1:8700"
ROLES = {
    "hr-reader": Role(
        "hr-reader", permissions={"employees": ("read",), "absences": ("read",)}, attributes=("first_name",)
    ),
    "reporting": Role("reporting", permissions={"custom_reports": ("read",)}),
}


def key():
    return "kfk_" + random.token_urlsafe(30)


def state(**organization):
    return desired(
        kinds=KeyformProvider.kinds,
        provider=PluginConfig("keyform", {"url": API, "token": "kfk_" + "o" * 40}),
        organization=Organization(**organization),
        roles=ROLES,
        users={
            "tom@acme.example": User(
                "tom@acme.example", "Tom", "B", roles=("hr-reader",), cognitive_access=True, api_key=ApiKey()
            ),
            "admin@acme.example": User("admin@acme.example", "A", "D", role="account_admin", api_key=ApiKey()),
            "old@acme.example": User("old@acme.example", "O", "L", archived=True),
            "off@acme.example": User("off@acme.example", "O", "F", api_key=ApiKey(enabled=False)),
        },
        credentials={
            "payroll": Credential(
                "payroll", roles=("hr-reader",), permissions={"attendances": ("read", "write")}, attributes=("salary",)
            ),
            "bi": Credential("bi", roles=("reporting",)),
            "legacy": Credential("legacy", enabled=False, permissions={"employees": ("read",)}),
        },
    )


def whoami(kind, name, role=None, permissions=None, attributes=(), cognitive=False):
    return {
        "principal": {"type": kind, "id": "x_1", "name": name},
        "role": role,
        "can_manage": role in ("account_admin", "account_owner"),
        "permissions": permissions or {},
        "attributes": list(attributes),
        "cognitive_access": cognitive,
    }


class FakeApi:
    """Answers whoami per bearer token and the token exchange per client secret, as docs/credential-api.md says."""

    def __init__(self, redactor):
        self.redactor = redactor
        self.principals = {}  # bearer -> (status, body)
        self.clients = {}  # client_secret -> (status, access token or error code)
        self.exchanges = []

    def install(self):
        responses.add_callback(responses.GET, f"{API}/v1/whoami", callback=self.whoami)
        responses.add_callback(responses.POST, f"{API}/v1/oauth/token", callback=self.token)

    def whoami(self, request):
        bearer = request.headers["Authorization"].removeprefix("Bearer ")
        assert self.redactor.redact(bearer) == MASK  # known to the redactor before it is sent
        status, body = self.principals.get(bearer, (401, {"code": "unauthorized", "message": "the API key is invalid"}))
        return status, {}, json.dumps(body)

    def token(self, request):
        body = json.loads(request.body)
        self.exchanges.append(body)
        assert body["grant_type"] == "client_credentials" and self.redactor.redact(body["client_secret"]) == MASK
        status, value = self.clients.get(body["client_secret"], (401, "unauthorized"))
        if status != 200:
            return status, {}, json.dumps({"code": value, "message": "refused"})
        return 200, {}, json.dumps({"access_token": value, "token_type": "Bearer", "expires_in": 3600, "scope": ""})

    def client(self, secret, answer, status=200):
        token = "kft_" + random.token_urlsafe(30)
        self.clients[secret] = (status, token if status == 200 else answer)
        if status == 200:
            self.principals[token] = (200, answer)
        return {"type": "client_credentials", "client_id": "kfc_" + random.token_urlsafe(8), "client_secret": secret}


def api_key_entry(value):
    return {"type": "api_key", "api_key": value, "secret_id": "key_1", "created_at": "2026-01-02T03:04:05Z"}


@responses.activate
def test_reports_ok_and_every_kind_of_mismatch_per_address():
    redactor = Redactor()
    api = FakeApi(redactor)
    api.install()
    tom, admin, old, off, stale, gone = key(), key(), key(), key(), key(), key()
    api.principals[tom] = (
        200,
        whoami(
            "api_key",
            "Tom@acme.example",
            "standard",
            {"employees": ["read"], "absences": ["read"]},
            ["first_name"],
            True,
        ),
    )
    api.principals[admin] = (
        200,
        whoami("api_key", "admin@acme.example", "account_admin", {"employees": ["read", "write"]}),
    )
    api.principals[old] = (200, whoami("api_key", "old@acme.example", "standard"))
    api.principals[gone] = (200, whoami("api_key", "gone@acme.example", "standard"))
    payroll_grants = {"employees": ["read"], "absences": ["read"], "attendances": ["read", "write"]}
    document = {
        "users/tom@acme.example": api_key_entry(tom),
        "users/admin@acme.example": api_key_entry(admin),
        "users/old@acme.example": api_key_entry(old),
        "users/off@acme.example": api_key_entry(off),  # declared disabled; the API refuses it (401): ok
        "users/gone@acme.example": api_key_entry(gone),
        "credentials/payroll": api.client(
            "kfs_" + random.token_urlsafe(30),
            whoami("credential", "payroll", None, payroll_grants, ["first_name", "salary"]),
        ),
        "credentials/bi": api.client(
            "kfs_" + random.token_urlsafe(30), whoami("credential", "bi", None, {"employees": ["read"]}, ["iban"])
        ),
        "credentials/legacy": api.client("kfs_" + random.token_urlsafe(30), "unauthorized", status=401),
        "credentials/revoked": {
            "type": "client_credentials",
            "client_id": "kfc_x",
            "client_secret": "kfs_" + random.token_urlsafe(30),
        },
        "credentials/payroll-stale": api_key_entry(stale),
    }
    report = verify(state(), document, redactor, sink=".keyform/secrets.json")
    lines = [str(f) for f in report.findings]
    assert lines == [
        "FAIL credentials/bi: wrong scopes: missing custom_reports:read; extra attribute:iban, employees:read "
        "(run keyform plan to see the drift)",
        "ok   credentials/legacy: refused as declared (the credential is declared disabled)",
        "ok   credentials/payroll: 6 grant(s) as declared",
        "FAIL credentials/payroll-stale: malformed sink entry: expected type client_credentials for credentials",
        "FAIL credentials/revoked: no longer declared in the desired state "
        "(the secret no longer authenticates, HTTP 401): remove it from the sink",
        "ok   users/admin@acme.example: account_admin: role checked (admins reach every module)",
        "FAIL users/gone@acme.example: no longer declared in the desired state "
        "but the secret still authenticates: revoke it and remove it from the sink",
        "ok   users/off@acme.example: refused as declared (the API key is declared disabled)",
        "FAIL users/old@acme.example: still authenticates although the user is declared archived: run keyform apply",
        "ok   users/tom@acme.example: 4 grant(s) as declared",
    ]
    assert not report.ok
    assert report.summary() == "Verified 10 secret(s) from .keyform/secrets.json: 5 ok, 5 failed."
    assert {e["client_id"] for e in api.exchanges} >= {document["credentials/payroll"]["client_id"]}
    secrets_seen = [
        tom,
        admin,
        old,
        off,
        gone,
        *(e["client_secret"] for e in document.values() if "client_secret" in e),
    ]
    secrets_seen += [token for token in api.principals if token.startswith("kft_")]  # access tokens too
    for value in secrets_seen:
        assert value not in "\n".join(lines) + report.summary()
        assert redactor.redact(value) == MASK


@responses.activate
def test_refusals_name_the_reason():
    redactor = Redactor()
    api = FakeApi(redactor)
    api.install()
    revoked, off_org, odd = key(), key(), key()
    api.principals[off_org] = (403, {"code": "api_access_disabled", "message": "API access is turned off"})
    api.principals[odd] = (200, whoami("credential", "payroll"))
    document = {
        "users/tom@acme.example": api_key_entry(revoked),
        "users/admin@acme.example": api_key_entry(off_org),
        "users/off@acme.example": {"type": "api_key"},
        "roles/hr-reader": api_key_entry(odd),
        "credentials/bi": api_key_entry(odd)
        | {"type": "client_credentials", "client_id": "kfc_1", "client_secret": odd},
    }
    api.clients[odd] = (200, odd)
    report = verify(state(), document, redactor)
    assert [str(f) for f in report.findings] == [
        "FAIL credentials/bi: authenticates as credential 'payroll', not as credentials/bi",
        "FAIL roles/hr-reader: not a users/ or credentials/ address: keyform never delivers secrets for it",
        "FAIL users/admin@acme.example: refused with HTTP 403 api_access_disabled: "
        "API access is off for the organisation",
        "FAIL users/off@acme.example: malformed sink entry: it needs api_key",
        "FAIL users/tom@acme.example: refused with HTTP 401 unauthorized: "
        "the secret was revoked, replaced or disabled (keyform rotate ADDR)",
    ]
    declared_off = verify(state(api_access=False), {"users/admin@acme.example": api_key_entry(off_org)}, redactor)
    assert [str(f) for f in declared_off.findings] == [
        "ok   users/admin@acme.example: refused as declared (organization.api_access is declared false)"
    ]


def test_expectations_unite_credential_scopes_with_its_roles_and_users_get_their_roles():
    desired = state()
    assert expectation(desired, "credentials/payroll").grants == {
        "employees:read",
        "absences:read",
        "attribute:first_name",
        "attendances:read",
        "attendances:write",
        "attribute:salary",
    }
    assert expectation(desired, "users/TOM@acme.example").grants == {
        "employees:read",
        "absences:read",
        "attribute:first_name",
        "cognitive_access",
    }
    assert expectation(desired, "users/admin@acme.example").grants is None
    assert expectation(desired, "users/nobody@acme.example") is None
    assert expectation(desired, "roles/hr-reader") is None


@responses.activate
def test_only_the_requested_addresses_and_unreachable_api():
    redactor = Redactor()
    report = verify(state(), {}, redactor, addresses=["users/tom@acme.example"], sink="s.json")
    assert [str(f) for f in report.findings] == ["FAIL users/tom@acme.example: no secret for it in s.json"]
    responses.get(f"{API}/v1/whoami", body=requests.exceptions.ConnectionError("refused"))
    value = key()
    with pytest.raises(ProviderError) as error:
        verify(state(), {"users/tom@acme.example": api_key_entry(value)}, redactor)
    assert str(error.value) == (
        f"users/tom@acme.example: GET /v1/whoami on {API} failed (ConnectionError): "
        "is the credential API up? (provider.url)"
    )
    assert verify(state(), {}, redactor).summary() == "No secrets to verify in the sink."


def test_read_sink_reads_the_file_sink_and_refuses_write_only_sinks(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"users/a": api_key_entry("kfk_x")}))
    assert read_sink(FileSink(path), "file") == {"users/a": api_key_entry("kfk_x")}
    with pytest.raises(SecretSinkError) as error:
        read_sink(VaultSink(API, "hvs.token"), "vault")
    assert str(error.value) == (
        "secrets.type vault can't be read back, so keyform verify skipped it: "
        "verify works with the file sink and the age sink with identity_file"
    )
    with pytest.raises(
        ProviderError, match=r"keyform verify needs a provider that can verify secrets \(provider\.type 'other'"
    ):
        verify(DesiredState(provider=PluginConfig("other", {})), {}, Redactor())


@responses.activate
def test_cli_prints_findings_through_the_redactor_and_exits_1_on_failure(tmp_path, monkeypatch):
    (tmp_path / "keyform.yaml").write_text(
        textwrap.dedent(
            f"""\
            version: 1
            provider:
              type: keyform
              url: {API}
              token: ${{env:KF_VERIFY_TOKEN}}
            roles:
              hr-reader:
                permissions:
                  employees: [read]
            users:
              tom@acme.example:
                first_name: Tom
                last_name: B
                roles: [hr-reader]
                api_key: {{}}
            """
        )
    )
    monkeypatch.setenv("KF_VERIFY_TOKEN", "kfk_" + "t" * 40)
    good, bad = key(), key()
    sink = tmp_path / ".keyform" / "secrets.json"
    sink.parent.mkdir()
    sink.write_text(json.dumps({"users/tom@acme.example": api_key_entry(good)}))
    body = whoami("api_key", "tom@acme.example", "standard", {"employees": ["read"]})
    responses.get(
        f"{API}/v1/whoami", json=body, match=[responses.matchers.header_matcher({"Authorization": f"Bearer {good}"})]
    )
    responses.get(f"{API}/v1/whoami", status=401, json={"code": "unauthorized", "message": f"bad key {bad}"})
    runner = CliRunner()
    ok = runner.invoke(main, ["-C", str(tmp_path), "verify"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == (
        f"ok   users/tom@acme.example: 1 grant(s) as declared\nVerified 1 secret(s) from {sink}: 1 ok, 0 failed.\n"
    )
    sink.write_text(json.dumps({"users/tom@acme.example": api_key_entry(bad)}))
    failed = runner.invoke(main, ["-C", str(tmp_path), "verify"], catch_exceptions=False)
    assert failed.exit_code == 1
    assert "FAIL users/tom@acme.example: refused with HTTP 401 unauthorized" in failed.stdout
    config = tmp_path / "keyform.yaml"
    config.write_text(config.read_text() + "secrets:\n  type: vault\n  url: https://vault.example\n")
    vault = runner.invoke(main, ["-C", str(tmp_path), "verify"], catch_exceptions=False, env={"VAULT_TOKEN": "hvs.x"})
    assert vault.exit_code == 1
    assert vault.stderr == (
        "Error: secrets.type vault can't be read back, so keyform verify skipped it: "
        "verify works with the file sink and the age sink with identity_file\n"
    )
    for result in (ok, failed, vault):
        for value in (good, bad, "kfk_" + "t" * 40):
            assert value not in result.stdout + result.stderr
