import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from keyform.errors import ProviderError
from keyform.providers.http import ApiClient, retrying_session, sanitize_url


class FlakyHandler(BaseHTTPRequestHandler):
    """Answers 503 (Retry-After: 0) to the first N requests of each idempotency key, then 201."""

    failures_left: dict[str, int] = {}
    seen_keys: list[str] = []
    seen: list[tuple[str, str]] = []  # (request target, Authorization header)

    def do_POST(self):
        key = self.headers.get("Idempotency-Key", "")
        self.seen_keys.append(key)
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        left = self.failures_left.setdefault(key, 2)
        if left:
            self.failures_left[key] = left - 1
            self._send(503, {"code": "unavailable", "message": "try later"}, {"Retry-After": "0"})
        else:
            self._send(201, {"ok": True})

    def _send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    FlakyHandler.failures_left, FlakyHandler.seen_keys, FlakyHandler.seen = {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_post_is_retried_on_503_with_the_same_idempotency_key(flaky_server):
    client = ApiClient(flaky_server, "tok", retries=3)
    try:
        assert client.request("POST", "/x", what="thing", json={}).json() == {"ok": True}
    finally:
        client.close()
    assert len(FlakyHandler.seen_keys) == 3 and len(set(FlakyHandler.seen_keys)) == 1


def test_gives_up_after_retries_with_a_clear_error(flaky_server):
    client = ApiClient(flaky_server, "tok", retries=1)
    try:
        with pytest.raises(ProviderError, match="thing: POST /x failed with HTTP 503 unavailable: try later"):
            client.request("POST", "/x", what="thing", json={})
    finally:
        client.close()


def test_unreachable_api_is_named():
    client = ApiClient("http://127.0.0.1:9", "tok", retries=0)
    try:
        with pytest.raises(ProviderError, match=r"users: can't reach http://127.0.0.1:9 .*is the credential API up\?"):
            client.request("GET", "/v1/users", what="users")
    finally:
        client.close()


def test_sanitize_url_drops_credentials():
    assert sanitize_url("https://user:pw@api.example:8443/base") == "https://api.example:8443/base"


def test_proxy_settings_from_the_environment_are_honoured(flaky_server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", flaky_server)  # the test server plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = ApiClient("http://api.invalid", "t0ken", retries=3)
    assert client.request("POST", "/v1/things", what="thing", json={}).json() == {"ok": True}
    assert FlakyHandler.seen[-1] == ("http://api.invalid/v1/things", "Bearer t0ken")

    monkeypatch.setenv("NO_PROXY", "api.invalid")
    with pytest.raises(ProviderError, match=r"^thing: can't reach http://api.invalid"):
        ApiClient("http://api.invalid", "t0ken", retries=0).request("POST", "/v1/things", what="thing", json={})


def test_a_netrc_entry_never_replaces_the_bearer_token(flaky_server, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    ApiClient(flaky_server, "t0ken", retries=3).request("POST", "/v1/things", what="thing", json={})
    # verify's way: a bare session, the token under test in each request's headers
    retrying_session(flaky_server).post(f"{flaky_server}/v1/x", headers={"Authorization": "Bearer kfk_key"}, timeout=5)
    assert {auth for _, auth in FlakyHandler.seen} == {"Bearer t0ken", "Bearer kfk_key"}


@responses.activate
def test_a_body_that_is_not_json_is_one_error_naming_the_kind_and_the_fix():
    responses.get("http://api.test/v1/users", body="<html>Sign in</html>", status=200)
    client = ApiClient("http://api.test", "tok", retries=0)
    expected = (
        r"^users: GET /v1/users answered HTTP 200 with a body that is not JSON \(.+\): "
        r"is provider.url the credential API\?$"
    )
    with pytest.raises(ProviderError, match=expected):
        list(client.paginate("/v1/users", what="users", page_size=10))
