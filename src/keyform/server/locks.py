"""Advisory locks for concurrent applies: one unexpired lock at a time."""

from __future__ import annotations

from typing import Any

from keyform.server.context import Context, Route
from keyform.server.errors import ApiError, not_found
from keyform.server.tokens import iso, new_id
from keyform.server.web import Response

DEFAULT_TTL = 900


def render(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "owner": row["owner"],
        "reason": row["reason"],
        "created_at": row["created_at"],
        "expires_at": iso(row["expires_ts"]),
    }


def _load(ctx: Context) -> dict[str, Any]:
    for row in ctx.tx.live_locks(ctx.now_ts):
        if row["id"] == ctx.params["lock_id"]:
            return row
    raise not_found("lock", ctx.params["lock_id"])


def list_locks(ctx: Context) -> Response:
    return Response(200, {"items": [render(row) for row in ctx.tx.live_locks(ctx.now_ts)]})


def acquire(ctx: Context) -> Response:
    ctx.tx.purge_expired_locks(ctx.now_ts)
    held = ctx.tx.live_locks(ctx.now_ts)
    if held:
        lock = render(held[0])
        raise ApiError(
            409,
            "locked",
            f"locked by {lock['owner']!r} since {lock['created_at']} until {lock['expires_at']} "
            f"(lock {lock['id']}); wait, or DELETE /v1/locks/{lock['id']} if it is stale",
            extra={"lock": lock},
        )
    row = {
        "id": new_id("lck"),
        "owner": ctx.body["owner"],
        "reason": ctx.body.get("reason", ""),
        "created_at": ctx.now,
        "expires_ts": ctx.now_ts + ctx.body.get("ttl_seconds", DEFAULT_TTL),
    }
    ctx.tx.insert("locks", row)
    ctx.audit("lock.create", "lock", row, "owner", {"owner": [None, row["owner"]]})
    return Response(201, render(row))


def extend(ctx: Context) -> Response:
    row = _load(ctx)
    expires = ctx.now_ts + ctx.body["ttl_seconds"]
    ctx.tx.update("locks", row["id"], {"expires_ts": expires})
    row = {**row, "expires_ts": expires}
    ctx.audit("lock.update", "lock", row, "owner", {"expires_at": [None, iso(expires)]})
    return Response(200, render(row))


def release(ctx: Context) -> Response:
    row = _load(ctx)
    ctx.tx.delete("locks", row["id"])
    ctx.audit("lock.delete", "lock", row, "owner", {"owner": [row["owner"], None]})
    return Response(204)


ROUTES = [
    Route("GET", "/v1/locks", list_locks),
    Route("POST", "/v1/locks", acquire, write=True, body="LockCreate"),
    Route("PATCH", "/v1/locks/{lock_id}", extend, write=True, body="LockPatch"),
    Route("DELETE", "/v1/locks/{lock_id}", release, write=True),
]
