"""The WSGI app outside a server: the last-resort 500, and the rate limiter's arithmetic."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from keyform.server import create_app, init_organization
from keyform.server.ratelimit import TokenBucket

SECRET = "-".join(["secret", "request", "data"])  # never spelled out in a source line


class ExplodingInput(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise RuntimeError(SECRET)


def test_an_unexpected_error_is_a_500_without_request_data(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = init_organization(db_path, "owner@example.com")
    app = create_app(db_path)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/roles", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "20", "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": ExplodingInput(),
    }  # fmt: skip
    started = {}
    try:
        with caplog.at_level(logging.ERROR, logger="keyform.server"):
            body = b"".join(app(environ, lambda status, headers: started.update(status=status)))
    finally:
        app.close()
    assert started["status"] == "500 Internal Server Error"
    assert json.loads(body)["code"] == "internal_error"
    assert "RuntimeError" in caplog.text and "Traceback" not in body.decode()
    assert SECRET not in caplog.text and token not in caplog.text


def test_token_bucket() -> None:
    clock = [0.0]
    bucket = TokenBucket(2, clock=lambda: clock[0])
    assert [bucket.take() for _ in range(3)] == [0, 0, 1]
    clock[0] += 0.5
    assert bucket.take() == 0 and bucket.take() == 1
    slow = TokenBucket(0.1, clock=lambda: clock[0])
    assert slow.take() == 0 and slow.take() == 10
