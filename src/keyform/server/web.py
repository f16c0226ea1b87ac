"""HTTP plumbing for the WSGI app: requests, responses, bodies, ETags and cursors."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from keyform.server.errors import ApiError, invalid

MAX_BODY = 1024 * 1024
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER range
LIMIT = re.compile(r"[0-9]{1,4}")
CURSOR = re.compile(r"s([0-9]{1,19})")


@dataclass
class Request:
    """The parts of a WSGI environ the API uses."""

    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, list[str]]

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return cls(environ, environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO", ""), query)

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        return self.environ.get(key)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def content_length(self) -> int:
        try:
            return int(self.header("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from None

    def read_body(self) -> bytes:
        """The body, refused with 413 beyond 1 MiB (checked before and while reading)."""
        if self.content_length() > MAX_BODY:
            raise too_large()
        data: bytes = self.environ["wsgi.input"].read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise too_large()
        return data

    def json_body(self, *, form_ok: bool = False) -> dict[str, Any]:
        """The body as a JSON object; an empty body is `{}`."""
        data = self.read_body()
        if not data.strip():
            return {}
        media = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if form_ok and media == "application/x-www-form-urlencoded":
            try:
                form = parse_qs(data.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "bad_request", "the form body is malformed") from None
            return {key: values[-1] for key, values in form.items()}
        if media != "application/json" and not media.endswith("+json"):
            accepted = "application/json" + (" or form-encoded" if form_ok else "")
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Content-Type {media or '(none)'!r} is not supported; send {accepted}",
            )
        body = parse_json(data)
        if not isinstance(body, dict):
            raise invalid("the body must be a JSON object")
        return body


class _NonFinite(ValueError):
    """A NaN or infinite number in a JSON body."""


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to infinity
        raise _NonFinite(text)
    return value


def parse_json(data: bytes) -> Any:
    """Strict JSON: 400 for malformed text, NaN/Infinity, numbers beyond a double, lone surrogates."""
    try:
        body = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NonFinite as error:
        message = f"the body holds the non-finite number {error}; send finite numbers only"
        raise ApiError(400, "bad_request", message) from None
    except (UnicodeDecodeError, ValueError) as error:
        message = f"the body is not valid JSON ({error.__class__.__name__}); send a JSON object"
        raise ApiError(400, "bad_request", message) from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the body is nested too deeply; send a flat JSON object") from None
    try:  # "\ud800" parses to a lone surrogate, which is not text and can't be stored
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        message = "the body holds a lone UTF-16 surrogate (such as \\ud800); send valid Unicode text"
        raise ApiError(400, "bad_request", message) from None
    return body


def too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"the body exceeds {MAX_BODY} bytes; send less data")


@dataclass
class Response:
    """A JSON (or raw bytes) response; `etag` becomes the ETag header."""

    status: int
    body: Any = None
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> tuple[str, list[tuple[str, str]], bytes]:
        status = f"{self.status} {HTTPStatus(self.status).phrase}"
        if self.status == 204 or self.body is None:
            payload = b""
        elif isinstance(self.body, bytes):
            payload = self.body
        else:
            payload = json.dumps(self.body, separators=(",", ":")).encode("utf-8")
        headers = [("Content-Length", str(len(payload)))]
        if payload:
            headers.append(("Content-Type", self.content_type))
        if self.etag:
            headers.append(("ETag", self.etag))
        headers.extend(self.headers.items())
        return status, headers, payload


def etag_of(row: dict[str, Any]) -> str:
    return f'"{row["version"]}"'


def check_if_match(request: Request, current: str) -> None:
    """412 unless the If-Match header (when sent) names the current ETag (or `*`)."""
    header = request.header("If-Match")
    if header is None:
        return
    given = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" in given or current in given:
        return
    raise ApiError(
        412,
        "precondition_failed",
        f"If-Match {header} does not match the current ETag {current}; GET it again and retry",
        extra={"etag": current},
    )


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def page_params(request: Request) -> tuple[int, int]:
    """(after sequence number, limit) from `?limit=N&cursor=C`."""
    raw_limit = request.param("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not LIMIT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw_limit!r}")
        limit = int(raw_limit)
    cursor = request.param("cursor")
    if not cursor:
        return 0, limit
    return _cursor_seq(cursor), limit


def _cursor_seq(cursor: str) -> int:
    """The sequence number in a cursor made by `encode_cursor`, or 400."""
    message = "cursor is not valid; pass the next_cursor of a previous page unchanged"
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", message) from None
    found = CURSOR.fullmatch(text)
    if found is None or int(found.group(1)) > MAX_SEQ:
        raise ApiError(400, "bad_request", message)
    return int(found.group(1))


def page_body(rows: list[dict[str, Any]], limit: int, items: list[Any]) -> dict[str, Any]:
    """`{"items", "next_cursor"}` given `limit + 1` fetched rows and the first `limit` rendered."""
    more = len(rows) > limit
    return {"items": items[:limit], "next_cursor": encode_cursor(rows[limit - 1]["seq"]) if more else None}
