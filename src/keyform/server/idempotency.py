"""Idempotency-Key: a retried POST replays the first response (secrets removed) instead of acting twice."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from keyform.server.errors import ApiError, invalid
from keyform.server.storage import Transaction
from keyform.server.web import Request, Response

KEEP_SECONDS = 24 * 3600
SECRET_FIELDS = ("api_key", "client_secret", "access_token")
MAX_KEY_LENGTH = 255


def idempotency_key(request: Request) -> str | None:
    key = request.header("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise invalid(f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters")
    return key


def fingerprint(request: Request, body: dict[str, Any]) -> str:
    text = json.dumps([request.method, request.path, body], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def redact(body: Any) -> Any:
    """The body with every secret field replaced by null (only this form is ever stored)."""
    if isinstance(body, dict):
        return {k: None if k in SECRET_FIELDS else v for k, v in body.items()}
    return body


def replay(tx: Transaction, principal: str, key: str, request_hash: str) -> Response | None:
    """The stored response for this key, or None; 422 if the key came with a different request."""
    stored = tx.idempotent_response(principal, key)
    if stored is None:
        return None
    if stored["request_hash"] != request_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key for a new request",
        )
    body = json.loads(stored["body"]) if stored["body"] else None
    headers = {"Idempotent-Replayed": "true"}
    return Response(stored["status"], body, stored["etag"], headers=headers)


def remember(tx: Transaction, principal: str, key: str, request_hash: str, response: Response, now_ts: float) -> None:
    """Store a successful response (redacted) in the same transaction as the change it made."""
    if not 200 <= response.status < 300:
        return
    body = None if response.body is None else json.dumps(redact(response.body))
    tx.save_idempotent_response(
        principal, key, request_hash, response.status, body, response.etag, now_ts, KEEP_SECONDS
    )
