"""`keyform verify` for provider predictive-index, against recorded answers in PI's documented shapes.

Shapes from PI's developer documentation:
- the `api-key` header and error codes: https://developers.predictiveindex.com/apis and
  https://predictiveindex.force.com/developers/s/API%20Guide (errors: `{"number", "context",
  "description", "parameterErrors"}`)
- the jobs list with `$top`: https://developers.predictiveindex.com/integration-examples
  (`{"totalRecords", "recordsReturn", "records": [...]}`)
- the cognitive read is modelled on the same list shape (not confirmed from a public page).
"""

from __future__ import annotations

import secrets as random
from pathlib import Path

import pytest
import responses

from tests.providers.vendors.helpers import project, run

API = "https://pi.test/api/v1"
YAML = f"""\
version: 1
provider:
  type: predictive-index
  api_url: {API}
users:
  data.manager@acme.example:
    first_name: Data
    last_name: Manager
    role: account_admin
    cognitive_access: true
    api_key: {{}}
  ats@acme.example:
    first_name: ATS
    last_name: Integration
    api_key: {{}}
  gone@acme.example:
    first_name: Gone
    last_name: User
    archived: true
"""
RECORD_VALUE = "Candidate-Title-0815"
JOBS = {"totalRecords": 4, "recordsReturn": 1, "records": [{"title": RECORD_VALUE, "jobId": "dcbfaea4"}]}


def error(number: int, description: str) -> dict[str, object]:
    return {"number": number, "context": None, "description": description, "parameterErrors": []}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def verify(tmp_path: Path, *emails: str):
    keys = {email: "1a2bc3d4-" + random.token_hex(12) for email in emails}
    document = {f"users/{email}": {"type": "api_key", "api_key": key, "secret_id": "k1"} for email, key in keys.items()}
    result = run(project(tmp_path, YAML, provider="predictive-index", sink=document), "verify")
    for key in keys.values():
        assert key not in result.output
    assert RECORD_VALUE not in result.output
    return result, keys


def test_a_working_key_reads_the_smallest_page_with_the_api_key_header(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", json=JOBS)

    result, keys = verify(tmp_path, "ats@acme.example")

    assert result.exit_code == 0, result.output
    assert "ok   users/ats@acme.example: the key works" in result.output
    assert api.calls[0].request.headers["api-key"] == keys["ats@acme.example"]
    assert "%24top=1" in api.calls[0].request.url or "$top=1" in api.calls[0].request.url
    assert len(api.calls) == 1  # no cognitive read where none is declared


def test_declared_cognitive_access_is_proved_with_one_cognitive_read(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", json=JOBS)
    api.get(f"{API}/cognitiveassessments", status=403, json=error(3, "Forbidden"))

    result, _ = verify(tmp_path, "data.manager@acme.example")

    assert result.exit_code == 1
    assert (
        "narrower than declared: the cognitive read answered HTTP 403: an Account Owner must tick Cognitive access"
    ) in result.output


def test_a_dead_or_deactivated_key_is_a_finding(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", status=401, json=error(1, "Unauthorized"))

    result, _ = verify(tmp_path, "ats@acme.example")

    assert result.exit_code == 1
    assert "refused with HTTP 401 (Unauthorized): the key is dead or deactivated" in result.output


def test_api_access_off_or_role_too_narrow_is_a_finding(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", status=403, json=error(2, "API access is not enabled"))

    result, _ = verify(tmp_path, "ats@acme.example")

    assert "refused with HTTP 403 (API access is not enabled): API access is off for the instance" in result.output


def test_an_archived_users_key_is_ok_only_when_refused(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", status=401, json=error(1, "Unauthorized"))

    result, _ = verify(tmp_path, "gone@acme.example")

    assert "ok   users/gone@acme.example: refused as declared (the user is declared archived; HTTP 401)" in (
        result.output
    )


def test_rate_limit_is_retried_and_5xx_reported(api, tmp_path: Path) -> None:
    api.get(f"{API}/jobs", status=429, headers={"Retry-After": "1"})
    api.get(f"{API}/jobs", json=JOBS)
    result, _ = verify(tmp_path, "ats@acme.example")
    assert result.exit_code == 0, result.output

    api.replace(responses.GET, f"{API}/jobs", status=500)
    (tmp_path / "again").mkdir()
    result, _ = verify(tmp_path / "again", "ats@acme.example")
    assert "Predictive Index answered HTTP 500 after 3 retries: nothing was checked" in result.output
