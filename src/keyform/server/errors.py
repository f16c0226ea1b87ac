"""Errors of the credential service: `ApiError` becomes an HTTP error body, `ServerError` a CLI error."""

from __future__ import annotations

from typing import Any

from keyform.errors import KeyformError


class ServerError(KeyformError):
    """The server can't start or initialise (bad database, port in use, token file exists...)."""


class ApiError(Exception):
    """A request the API refuses: rendered as `{"code", "message"}` (plus `extra` fields) with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def not_found(kind: str, resource_id: str) -> ApiError:
    return ApiError(404, "not_found", f"{kind} {resource_id!r} does not exist; list {kind}s to find its id")


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def invalid(message: str, status: int = 422) -> ApiError:
    return ApiError(status, "validation_error", message)
