"""Random and mutated JSON bodies never make the server fail: a 4xx with {code, message} or a clean success."""

from __future__ import annotations

import base64
import json
import socket

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyform.server import running_server

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
FIELDS = [
    "name",
    "email",
    "first_name",
    "last_name",
    "role",
    "roles",
    "permissions",
    "attributes",
    "enabled",
    "integration",
    "description",
    "managed_by",
    "cognitive_access",
    "archived",
    "api_access",
    "owner",
    "ttl_seconds",
]
NEAR_VALID = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
ENDPOINTS = [
    ("POST", "/v1/users"),
    ("POST", "/v1/roles"),
    ("POST", "/v1/credentials"),
    ("PATCH", "/v1/organization"),
    ("POST", "/v1/locks"),
    ("POST", "/v1/oauth/token"),
    ("POST", "/v1/data/attendances"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("hostile") / "db.sqlite"
    with running_server(db, init_owner="owner@x.example") as running, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {running.owner_token}"
        yield running.url, session


def assert_clean_answer(response: requests.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"code", "message"} and body["message"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=st.one_of(JSON, NEAR_VALID))
def test_random_json_bodies_get_a_clean_answer(server, endpoint, body):
    url, session = server
    method, path = endpoint
    assert_clean_answer(
        session.request(
            method, url + path, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10
        )
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_as_body_get_a_clean_answer(server, raw):
    url, session = server
    assert_clean_answer(
        session.post(url + "/v1/credentials", data=raw, headers={"Content-Type": "application/json"}, timeout=10)
    )


def test_deeply_nested_body_is_refused_cleanly(server):
    url, session = server
    body = "[" * 100_000 + "]" * 100_000
    response = session.post(url + "/v1/roles", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def assert_bad_request(response: requests.Response, text: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_request" and text in body["message"], body


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(server, number):
    url, session = server
    employee = session.get(url + "/v1/data/employees", timeout=10).json()["items"][0]["id"]
    payload = f'{{"employee_id": "{employee}", "date": "2024-05-06", "hours": {number}}}'
    response = session.post(
        url + "/v1/data/attendances", data=payload, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert_bad_request(response, "non-finite number")
    listed = session.get(url + "/v1/data/attendances", timeout=10)
    assert listed.status_code == 200
    json.loads(listed.text, parse_constant=lambda name: pytest.fail(f"the list holds {name}"))


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"limit": "\u00b2"}, "validation_error", "limit must be an integer"),
        ({"limit": "\u0661"}, "validation_error", "limit must be an integer"),
        ({"cursor": "c8Ky"}, "bad_request", "cursor is not valid"),
        ({"cursor": base64.urlsafe_b64encode(b"s" + b"9" * 40).decode()}, "bad_request", "cursor is not valid"),
        ({"cursor": base64.urlsafe_b64encode(b"s9223372036854775808").decode()}, "bad_request", "cursor is not valid"),
        ({"cursor": "\u00e9t\u00e9"}, "bad_request", "cursor is not valid"),
    ],
)
def test_odd_list_parameters_get_a_4xx(server, params, code, text):
    url, session = server
    response = session.get(url + "/v1/users", params=params, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["code"] == code and text in body["message"], body


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/users", "first_name"), ("/v1/users", "email"), ("/v1/roles", "name"), ("/v1/credentials", "name")],
)
def test_lone_surrogates_are_refused(server, path, field):
    url, session = server
    body = {"email": "s@example.com", "first_name": "S", "last_name": "T"} if path == "/v1/users" else {}
    body[field] = "x\ud800@example.com"
    payload = json.dumps(body)  # ASCII escapes: the surrogate travels as \ud800
    response = session.post(url + path, data=payload, headers={"Content-Type": "application/json"}, timeout=10)
    assert_bad_request(response, "lone UTF-16 surrogate")


def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; (status, headers, body) of the answer, read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "code", "text"),
    [
        (b"get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", "bad_request", 'Malformed HTTP method "get"'),
        (b"POST /v1/roles HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", "bad_request", "Content-Length"),
        (b"POST /v1/roles HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "bad_request", "Content-Length"),
        (b"GET /v1/health HTTP/1.1\r\nAuthorization Bearer kfk_secret\r\n\r\n", "bad_request", "Invalid header"),
    ],
    ids=["lowercase-method", "content-length-text", "content-length-negative", "header-no-colon"],
)
def test_requests_waitress_refuses_get_the_json_error_body(server, request_bytes, code, text):
    url, _ = server
    status, headers, body = raw_exchange(url, request_bytes)
    assert 400 <= status < 500 and headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["code"] == code and text in error["message"], error
    assert "well-formed HTTP/1.1 request" in error["message"] and b"kfk_secret" not in body
