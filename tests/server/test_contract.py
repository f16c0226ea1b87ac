"""Contract tests driven by the OpenAPI document: every operation's generic error responses,
routes == documented operations, and (last) every documented response was seen by some test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

from keyform.server.app import ROUTES
from keyform.server.web import MAX_BODY

from .conftest import CONTRACT, FINAL_TEST, OPENAPI_PATH, Api, error_of

OPERATIONS = CONTRACT.operations()
AUTHENTICATED = [(t, m) for t, m, op in OPERATIONS if "401" in op["responses"] and t != "/v1/oauth/token"]
MANAGEMENT = [(r.template, r.method) for r in ROUTES if r.access == "manage"]
WITH_IDS = [(t, m) for t, m, op in OPERATIONS if "404" in op["responses"]]
WITH_IF_MATCH = [(t, m) for t, m, op in OPERATIONS if "412" in op["responses"]]
WITH_BODY = [(t, m) for t, m, op in OPERATIONS if "requestBody" in op]
LISTS = [(t, m) for t, m, op in OPERATIONS if any(
    p.get("$ref", "").endswith("/Limit") for p in op.get("parameters", []))]  # fmt: skip
VALID_BODIES = {
    ("/v1/users/{user_id}/api-key", "PATCH"): {"enabled": True},
    ("/v1/locks/{lock_id}", "PATCH"): {"ttl_seconds": 60},
    ("/v1/oauth/token", "POST"): {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
}


def ident(case: tuple[str, str]) -> str:
    return f"{case[1]} {case[0]}"


def concrete(template: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


@pytest.fixture
def world(api: Api) -> dict[str, str]:
    """Real ids of one of each resource (a standard user with a key, a credential, a lock)."""
    role = api.role()
    user, _ = api.user()
    credential = api.credential()
    lock = api.owner.post("/v1/locks", json={"owner": "tests"}).json()
    return {
        "role_id": role["id"], "user_id": user["id"], "credential_id": credential["id"],
        "secret_id": credential["secrets"][0]["id"], "lock_id": lock["id"],
    }  # fmt: skip


UNKNOWN = {k: f"{k[:3]}_0000" for k in ("role_id", "user_id", "credential_id", "secret_id", "lock_id")}


def test_document_is_valid_openapi_3_1() -> None:
    errors = [
        f"{list(error.absolute_path)}: {error.message}" for error in OpenAPIV31SpecValidator(CONTRACT.doc).iter_errors()
    ]
    assert errors == []


def test_flow_mappings_hold_no_stray_keys() -> None:
    """An unquoted comma in a flow mapping (`{description: a, b.}`) makes a key `b.` with no value."""
    loose = yaml.safe_load(OPENAPI_PATH.read_text())

    def nulls(node: object, where: str) -> list[str]:
        if isinstance(node, dict):
            return [f"{where}/{k}" for k, v in node.items() if v is None] + [
                found for k, v in node.items() for found in nulls(v, f"{where}/{k}")
            ]
        if isinstance(node, list):
            return [found for i, v in enumerate(node) for found in nulls(v, f"{where}/{i}")]
        return []

    assert nulls(loose, "") == []


def test_routes_are_exactly_the_documented_operations() -> None:
    served = {(route.template, route.method) for route in ROUTES}
    assert served == {(t, m) for t, m, _ in OPERATIONS}


@pytest.mark.parametrize("case", AUTHENTICATED, ids=ident)
def test_requests_without_a_valid_token_get_401(api: Api, case: tuple[str, str]) -> None:
    template, method = case
    path = concrete(template, UNKNOWN)
    status, code, message = error_of(api.session().request(method, path))
    assert (status, code) == (401, "unauthorized")
    assert "missing bearer token" in message
    bogus = api.session("kfk_" + "A" * 40).request(method, path)
    assert error_of(bogus)[:2] == (401, "unauthorized")
    assert "invalid or was replaced" in error_of(bogus)[2]


@pytest.mark.parametrize("case", MANAGEMENT, ids=ident)
def test_standard_keys_cannot_manage(api: Api, case: tuple[str, str]) -> None:
    _, key = api.user(role="standard")
    status, code, message = error_of(api.session(key).request(case[1], concrete(case[0], UNKNOWN)))
    assert (status, code) == (403, "forbidden")
    assert "Account Admin or Account Owner API key" in message


@pytest.mark.parametrize("case", WITH_IDS, ids=ident)
def test_unknown_ids_get_404(api: Api, world: dict[str, str], case: tuple[str, str]) -> None:
    template, method = case
    ids = dict(UNKNOWN)
    if "secret_id" in template:  # a real credential with an unknown secret
        ids["credential_id"] = world["credential_id"]
    body = VALID_BODIES.get(case, {}) if method == "PATCH" else None
    status, code, message = error_of(api.owner.request(method, concrete(template, ids), json=body))
    assert (status, code) == (404, "not_found")
    assert "does not exist" in message


@pytest.mark.parametrize("case", WITH_IF_MATCH, ids=ident)
def test_stale_if_match_gets_412_naming_the_current_etag(
    api: Api, world: dict[str, str], case: tuple[str, str]
) -> None:
    template, method = case
    if "api-key" in template:
        api.owner.post(f"/v1/users/{world['user_id']}/api-key")
    path = concrete(template, world)
    parent = re.sub(r"/(api-key|secrets.*)$", "", path)
    current = api.owner.get(parent).headers["ETag"]
    body = VALID_BODIES.get(case, {}) if method == "PATCH" else None
    response = api.owner.request(method, path, json=body, headers={"If-Match": '"999"'})
    status, code, message = error_of(response)
    assert (status, code) == (412, "precondition_failed")
    assert response.json()["etag"] == current and current in message
    assert api.owner.get(parent).headers["ETag"] == current  # nothing changed


@pytest.mark.parametrize("case", WITH_BODY, ids=ident)
def test_bad_bodies_get_4xx_without_changes(api: Api, world: dict[str, str], case: tuple[str, str]) -> None:
    template, method = case
    path = concrete(template, world)
    audit_before = len(api.owner.get("/v1/audit?limit=1000").json()["items"])
    json_type = {"Content-Type": "application/json"}
    malformed = api.owner.request(method, path, data=b'{"name": ', headers=json_type)
    assert error_of(malformed)[:2] == (400, "bad_request")
    assert "not valid JSON" in error_of(malformed)[2]
    text = api.owner.request(method, path, data=b"name=x", headers={"Content-Type": "text/plain"})
    assert error_of(text)[:2] == (415, "unsupported_media_type")
    assert "'text/plain' is not supported" in error_of(text)[2]
    huge = b'{"name": "' + b"x" * MAX_BODY + b'"}'
    too_large = api.owner.request(method, path, data=huge, headers=json_type)
    assert error_of(too_large)[:2] == (413, "payload_too_large")
    unknown = {**VALID_BODIES.get(case, {}), "surprise_field": 1}
    status, code, message = error_of(api.owner.request(method, path, json=unknown))
    assert (status, code) == (422, "validation_error")
    assert "surprise_field" in message
    wrong_type = api.owner.request(method, path, json=[1, 2])
    assert error_of(wrong_type)[:2] == (422, "validation_error")
    assert len(api.owner.get("/v1/audit?limit=1000").json()["items"]) == audit_before


@pytest.mark.parametrize("case", LISTS, ids=ident)
def test_list_parameters_are_checked(api: Api, case: tuple[str, str]) -> None:
    template = case[0]
    status, code, message = error_of(api.owner.get(template, params={"cursor": "garbage!"}))
    assert (status, code) == (400, "bad_request")
    assert "cursor is not valid" in message
    for limit in ("0", "1001", "ten"):
        status, code, message = error_of(api.owner.get(template, params={"limit": limit}))
        assert (status, code) == (422, "validation_error")
        assert f"got '{limit}'" in message


def test_unknown_paths_and_methods(api: Api) -> None:
    status, code, message = error_of(api.owner.get("/v1/nothing-here"))
    assert (status, code) == (404, "not_found") and "no such endpoint" in message
    response = api.owner.put("/v1/users", json={})
    assert error_of(response)[:2] == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, POST"


def test_served_openapi_document_is_the_shipped_file(api: Api) -> None:
    response = api.session().get("/v1/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml"
    assert response.content == OPENAPI_PATH.read_bytes()


def test_every_documented_response_is_exercised(request: pytest.FixtureRequest) -> None:
    """Runs last (see conftest); only meaningful when the whole tests/server suite ran."""
    config = request.config
    collected = {Path(str(item.path)).name for item in request.session.items}
    modules = {p.name for p in Path(__file__).parent.glob("test_*.py")}
    if config.getoption("keyword") or config.getoption("markexpr") or not modules <= collected:
        pytest.skip("only checked when the whole tests/server suite runs")
    if request.session.testsfailed:
        pytest.skip("other tests failed; coverage of the contract is not meaningful")
    missing = sorted(CONTRACT.documented() - CONTRACT.seen)
    assert not missing, f"documented but never exercised: {missing}"


assert test_every_documented_response_is_exercised.__name__ == FINAL_TEST
