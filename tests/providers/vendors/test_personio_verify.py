"""`keyform verify` for provider personio, against recorded answers in Personio's documented shapes.

Shapes from Personio's developer documentation:
- v2 token: https://developer.personio.de/reference/post_v2-auth-token (form-encoded
  grant_type=client_credentials, client_id, client_secret, scope; answers access_token,
  token_type, expires_in, scope; an OAuth error body `error`/`error_description` otherwise)
- v2 revoke: https://developer.personio.de/reference/post_v2-auth-revoke (form-encoded `token`)
- v1 auth: https://developer.personio.de/v1.0/reference/post_auth (`{"success": true, "data":
  {"token": ...}}`), with the 60-a-minute rate limit of https://developer.personio.de/reference/auth
- 403 "Insufficient access scope": https://developer.personio.de/v2.0/page/public-api-error-codes
- v1 employees: https://developer.personio.de/v1.0/reference/get_company-employees
  (`data[].attributes.NAME = {label, value, type, universal_id}`)
"""

from __future__ import annotations

import json
import secrets as random
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from tests.providers.vendors.helpers import project, run

API = "https://personio.test"
YAML = f"""\
version: 1
provider:
  type: personio
  api_url: {API}
credentials:
  payroll:
    integration: DATEV
    permissions:
      employees: [read]
      absences: [read]
    attributes: [first_name, last_name]
  legacy:
    enabled: false
    permissions:
      employees: [read]
"""
EMPLOYEE_VALUE = "Ada-Lovelace-4711"  # a value only the recorded employee carries: never printed


def secret() -> str:
    return "sec_" + random.token_urlsafe(24)


def sink(*names: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    document, values = {}, []
    for name in names:
        value = secret()
        values.append(value)
        document[f"credentials/{name}"] = {
            "type": "client_credentials",
            "client_id": f"cid-{name}",
            "client_secret": value,
            "secret_id": f"cid-{name}",
            "created_at": "2024-05-01T10:00:00Z",
        }
    return document, values


def token_ok(token: str, scope: str = "personio:absences:read personio:persons:read") -> dict[str, object]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": 86400, "scope": scope}


def employees(*fields: str) -> dict[str, object]:
    attributes = {
        name: {"label": name.replace("_", " "), "value": EMPLOYEE_VALUE, "type": "standard", "universal_id": name}
        for name in fields
    }
    return {
        "success": True,
        "metadata": {"total_elements": 1},
        "data": [{"type": "Employee", "attributes": attributes}],
    }


INSUFFICIENT = {
    "personio_trace_id": "f9eddcad-e93c-4d7f-a6b3-76caf2eec677",
    "timestamp": "2024-09-18T09:37:58Z",
    "errors": [{"title": "Insufficient access scope", "detail": "Client scope insufficient to access resource"}],
}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def verify(tmp_path: Path, *names: str, yaml: str = YAML):
    document, values = sink(*names)
    directory = project(tmp_path, yaml, sink=document)
    result = run(directory, "verify")
    for value in values:
        assert value not in result.output
    assert EMPLOYEE_VALUE not in result.output
    return result


def test_valid_credential_exchanges_with_declared_scopes_probes_modules_and_revokes(api, tmp_path: Path) -> None:
    token = "papi-" + random.token_hex(8)
    api.post(f"{API}/v2/auth/token", json=token_ok(token))
    api.get(f"{API}/v1/company/time-offs", json={"success": True, "data": []})
    api.get(f"{API}/v1/company/employees", json=employees("id", "first_name", "last_name"))
    api.post(f"{API}/v2/auth/revoke", status=200)

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 0, result.output
    assert "ok   credentials/payroll: authenticates; 2 module(s) as declared, 2 employee attribute(s)" in result.output
    exchange = parse_qs(api.calls[0].request.body)
    assert exchange["grant_type"] == ["client_credentials"]
    assert exchange["scope"] == ["personio:absences:read personio:persons:read"]
    assert "limit=1" in api.calls[2].request.url  # one record, no more
    assert parse_qs(api.calls[-1].request.body) == {"token": [token]}  # the token is revoked
    assert token not in result.output


def test_invalid_secret_is_a_finding(api, tmp_path: Path) -> None:
    api.post(
        f"{API}/v2/auth/token", status=401, json={"error": "invalid_client", "error_description": "Bad credentials"}
    )

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert (
        "FAIL credentials/payroll: refused with HTTP 401 (invalid_client; Bad credentials): the secret is wrong, "
        "or the credentials were disabled or deleted in Personio"
    ) in result.output


def test_credential_declared_disabled_is_ok_when_refused_and_a_finding_when_it_works(api, tmp_path: Path) -> None:
    api.post(f"{API}/v2/auth/token", status=401, json={"error": "invalid_client"})
    assert "ok   credentials/legacy: refused as declared (disabled; HTTP 401)" in verify(tmp_path, "legacy").output

    api.replace(responses.POST, f"{API}/v2/auth/token", json=token_ok("papi-x"))
    api.post(f"{API}/v2/auth/revoke", status=200)
    (tmp_path / "again").mkdir()
    result = verify(tmp_path / "again", "legacy")
    assert "FAIL credentials/legacy: still authenticates although declared disabled: disable it in Personio" in (
        result.output
    )


def test_invalid_scope_means_a_declared_permission_is_missing(api, tmp_path: Path) -> None:
    api.post(f"{API}/v2/auth/token", status=400, json={"error": "invalid_scope", "error_description": "Invalid Scope"})

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert "FAIL credentials/payroll: narrower than declared: invalid_scope; Invalid Scope" in result.output


def test_insufficient_access_scope_on_a_module_read_is_a_missing_permission(api, tmp_path: Path) -> None:
    api.post(f"{API}/v2/auth/token", json=token_ok("papi-1"))
    api.get(f"{API}/v1/company/time-offs", status=403, json=INSUFFICIENT)
    api.get(f"{API}/v1/company/employees", json=employees("id", "first_name", "last_name"))
    api.post(f"{API}/v2/auth/revoke", status=200)

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert "narrower than declared: missing absences:read (403 Insufficient access scope)" in result.output


def test_an_undeclared_employee_attribute_is_an_escalation_named_without_its_value(api, tmp_path: Path) -> None:
    api.post(f"{API}/v2/auth/token", json=token_ok("papi-2"))
    api.get(f"{API}/v1/company/time-offs", json={"success": True, "data": []})
    api.get(f"{API}/v1/company/employees", json=employees("id", "first_name", "last_name", "salary"))
    api.post(f"{API}/v2/auth/revoke", status=200)

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert "wider than declared (escalation): employee attributes not in the allow-list: salary" in result.output


def test_rate_limited_auth_is_retried_after_retry_after(api, tmp_path: Path) -> None:
    api.post(f"{API}/v2/auth/token", status=429, headers={"Retry-After": "1"}, json={"error": "rate_limited"})
    api.post(f"{API}/v2/auth/token", json=token_ok("papi-3"))
    api.get(f"{API}/v1/company/time-offs", json={"success": True, "data": []})
    api.get(f"{API}/v1/company/employees", json=employees("id", "first_name", "last_name"))
    api.post(f"{API}/v2/auth/revoke", status=200)

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 0, result.output
    assert [call.response.status_code for call in api.calls[:2]] == [429, 200]


def test_rate_limit_that_persists_is_reported_not_judged(api, tmp_path: Path) -> None:
    for _ in range(4):
        api.post(f"{API}/v2/auth/token", status=429, headers={"Retry-After": "0"})

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert "Personio rate-limited the check (HTTP 429) after 3 retries: run keyform verify again in a minute" in (
        result.output
    )


def test_server_error_is_reported_after_retries(api, tmp_path: Path) -> None:
    for _ in range(4):
        api.post(f"{API}/v2/auth/token", status=503)

    result = verify(tmp_path, "payroll")

    assert result.exit_code == 1
    assert "Personio answered HTTP 503 after 3 retries: nothing was checked; try again later" in result.output


def test_v1_auth_exchanges_at_v1_auth(api, tmp_path: Path) -> None:
    api.post(f"{API}/v1/auth", json={"success": True, "data": {"token": "papi-v1"}})
    api.get(f"{API}/v1/company/time-offs", json={"success": True, "data": []})
    api.get(f"{API}/v1/company/employees", json=employees("id", "first_name", "last_name"))

    result = verify(tmp_path, "payroll", yaml=YAML.replace(f"api_url: {API}", f"api_url: {API}\n  auth: v1"))

    assert result.exit_code == 0, result.output
    assert json.loads(api.calls[0].request.body)["client_id"] == "cid-payroll"
    assert all("/v2/" not in call.request.url for call in api.calls)
