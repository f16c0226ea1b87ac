"""Fixtures: the real server on a free loopback port, and sessions that check every response
against the OpenAPI document (and record which documented responses the tests saw).

Every test that uses the `server` (or `api`, or `db`) fixture runs twice: on a SQLite file and on
a fresh PostgreSQL database of the session's private cluster (tests/pg.py). A test about SQLite's
files is marked `sqlite_only`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from keyform.server import RunningServer, running_server
from keyform.server.storage import open_storage
from tests.pg import Cluster

OPENAPI_PATH = Path(__file__).parents[2] / "schemas" / "credential-api.openapi.yaml"
OWNER_EMAIL = "owner@example.com"
FINAL_TEST = "test_every_documented_response_is_exercised"


class Contract:
    """The OpenAPI document, a response checker, and the record of (path, method, status) seen."""

    def __init__(self, path: Path):
        self.doc = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:openapi", resource)
        self.templates = sorted(self.doc["paths"], key=lambda t: t.count("{"))
        self.patterns = [(re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", t) + "$"), t) for t in self.templates]
        self.seen: set[tuple[str, str, str]] = set()

    def template(self, path: str) -> str | None:
        return next((t for pattern, t in self.patterns if pattern.match(path)), None)

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (template, method.upper(), status)
            for template, item in self.doc["paths"].items()
            for method, op in item.items()
            if method != "parameters"
            for status in op["responses"]
            if status != "default"
        }

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (template, method.upper(), op)
            for template, item in self.doc["paths"].items()
            for method, op in item.items()
            if method != "parameters"
        ]

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"urn:openapi#{pointer}"}, registry=self.registry)

    def check(self, method: str, path: str, response: requests.Response) -> None:
        """Assert that the response is documented and its body validates; record it."""
        status = str(response.status_code)
        template = self.template(path)
        op = self.doc["paths"][template].get(method.lower()) if template else None
        if op is None:
            assert status in ("404", "405", "429"), f"{method} {path} -> {status} is not documented"
            self._validate(response, "/components/schemas/Error")
            return
        responses = op["responses"]
        if status in responses:
            key = status
        else:
            assert status in ("429", "500") and "default" in responses, (
                f"{method} {template} answered {status}, which is not documented: {response.text}"
            )
            key = "default"
        self.seen.add((template, method.upper(), status))
        spec = responses[key]
        if "$ref" in spec:
            spec = self.doc["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        content = spec.get("content")
        if not content:
            assert response.content == b"", f"{method} {template} {status} must have no body"
            return
        media = response.headers.get("Content-Type", "").split(";")[0]
        assert media in content, f"{method} {template} {status}: undocumented Content-Type {media}"
        if media == "application/json":
            pointer = _pointer(content[media]["schema"])
            self._validate(response, pointer, f"{method} {template} {status}")

    def _validate(self, response: requests.Response, pointer: str, what: str = "") -> None:
        body = response.json()
        errors = sorted(self.validator(pointer).iter_errors(body), key=str)
        assert not errors, f"{what} body does not match {pointer}: {errors[0].message}\n{body}"


def _pointer(schema: dict[str, Any]) -> str:
    assert "$ref" in schema, "response schemas are components"
    return schema["$ref"].removeprefix("#")


CONTRACT = Contract(OPENAPI_PATH)


class ApiSession(requests.Session):
    """A session bound to one server and token; every response is checked against the contract."""

    def __init__(self, base_url: str, token: str | None = None):
        super().__init__()
        self.base_url = base_url
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        full = self.base_url + url if url.startswith("/") else url
        response = super().request(method, full, *args, **kwargs)
        path = requests.utils.urlparse(full).path
        CONTRACT.check(method.upper(), path, response)
        return response


class Api:
    """Helpers over one running server: sessions (closed at teardown) and resource factories."""

    def __init__(self, server: RunningServer):
        self.server = server
        self.url = server.url
        self._sessions: list[ApiSession] = []
        self.owner = self.session(server.owner_token)
        self._n = 0

    def session(self, token: str | None = None) -> ApiSession:
        session = ApiSession(self.url, token)
        self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def _unique(self) -> int:
        self._n += 1
        return self._n

    def user(self, role: str = "standard", key: bool = True, **fields: Any) -> tuple[dict, str | None]:
        """Create a user (as the owner) and, by default, their API key."""
        n = self._unique()
        body = {"email": f"user{n}@example.com", "first_name": f"U{n}", "last_name": "Test"}
        body.update(role=role, **fields)
        response = self.owner.post("/v1/users", json=body)
        assert response.status_code == 201, response.text
        user = response.json()
        if not key:
            return user, None
        response = self.owner.post(f"/v1/users/{user['id']}/api-key")
        assert response.status_code == 201, response.text
        return user, response.json()["api_key"]

    def role(self, **fields: Any) -> dict:
        body = {"name": f"role{self._unique()}", **fields}
        response = self.owner.post("/v1/roles", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def credential(self, **fields: Any) -> dict:
        body = {"name": f"cred{self._unique()}", **fields}
        response = self.owner.post("/v1/credentials", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def token(self, credential: dict) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": credential["client_id"],
            "client_secret": credential["client_secret"],
        }
        response = self.session().post("/v1/oauth/token", json=body)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def set_api_access(self, enabled: bool) -> None:
        response = self.owner.patch("/v1/organization", json={"api_access": enabled})
        assert response.status_code == 200, response.text


@pytest.fixture
def contract() -> Contract:
    return CONTRACT


BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite's database files")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses a database on every backend (SQLite only when marked so)."""
    if "db" in metafunc.fixturenames:
        backends = BACKENDS[:1] if metafunc.definition.get_closest_marker("sqlite_only") else BACKENDS
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class ServerDatabase:
    """One PostgreSQL database with the server's schema, emptied before each test (cheaper than a new one)."""

    def __init__(self, cluster: Cluster):
        self.url = cluster.create_database()
        open_storage(self.url).close()  # the server's migrations
        self.conn = cluster.connect(self.url.rsplit("/", 1)[1])
        rows = self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'keyform_schema'"
        ).fetchall()
        self.tables = ", ".join(row[0] for row in rows)

    def emptied(self) -> str:
        """Its URL, after emptying every table (the schema and its version stay)."""
        self.conn.execute(f"TRUNCATE {self.tables} RESTART IDENTITY CASCADE")
        return self.url


@pytest.fixture(scope="session")
def pg_server_database(pg_cluster: Cluster) -> Iterator[ServerDatabase]:
    database = ServerDatabase(pg_cluster)
    yield database
    database.conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "keyform.db"


@pytest.fixture
def db(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The database the server runs on: a new SQLite file's path, or an empty PostgreSQL database's URL."""
    if backend == "sqlite":
        yield str(db_path)
        return
    yield request.getfixturevalue("pg_server_database").emptied()


@pytest.fixture
def server(db: str) -> Iterator[RunningServer]:
    with running_server(db, init_owner=OWNER_EMAIL) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    helper = Api(server)
    yield helper
    helper.close()


def error_of(response: requests.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error response."""
    body = response.json()
    return response.status_code, body["code"], body["message"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the exercised-responses check after every other test."""
    items.sort(key=lambda item: item.name == FINAL_TEST)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
