"""What a request handler gets: the request, its transaction, its principal, and an audit log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keyform.server.auth import Principal
from keyform.server.storage import Transaction
from keyform.server.tokens import iso, new_id
from keyform.server.web import Request, Response, encode_cursor


class Stats:
    """Counters since start: HTTP requests served and TCP connections accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.connections = 0

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1


@dataclass
class Context:
    """One request being handled inside one transaction."""

    request: Request
    tx: Transaction
    principal: Principal | None
    params: dict[str, str]
    now_ts: float
    stats: Stats
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> str:
        return iso(self.now_ts)

    @property
    def actor(self) -> Principal:
        assert self.principal is not None, "route without authentication used the principal"
        return self.principal

    def audit(self, action: str, kind: str, target: dict[str, Any], name_field: str, changes: dict[str, Any]) -> None:
        """Record one audit entry; `changes` must never hold a secret or a hash."""
        target_ref = {"kind": kind, "id": target["id"], "name": target.get(name_field)}
        record_audit(self.tx, self.now, self.actor.ref(), action, target_ref, changes)


def record_audit(
    tx: Transaction, at: str, actor: dict[str, str], action: str, target: dict[str, Any], changes: dict[str, Any]
) -> None:
    """Insert one audit entry (`target`: kind, id, name); `changes` must never hold a secret or a hash."""
    tx.insert(
        "audit",
        {"id": new_id("aud"), "at": at, "actor": actor, "action": action, "target": target, "changes": changes},
    )


@dataclass(frozen=True)
class Route:
    """One operation: `access` is "public", "principal" (any key or token) or "manage"."""

    method: str
    template: str
    handler: Callable[[Context], Response]
    access: str = "manage"
    write: bool = False
    body: str | None = None  # component schema of the JSON body
    form_ok: bool = False  # also accept form-encoded bodies


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for every field of `after` that differs from `before`."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def created(after: dict[str, Any]) -> dict[str, list[Any]]:
    return {key: [None, value] for key, value in after.items()}


def stamps(row: dict[str, Any]) -> dict[str, Any]:
    """The common resource fields: created_at, updated_at and etag."""
    return {"created_at": row["created_at"], "updated_at": row["updated_at"], "etag": f'"{row["version"]}"'}


def json_page(rows: list[tuple[int, str]], limit: int) -> bytes:
    """`{"items", "next_cursor"}` from `limit + 1` (seq, item JSON) rows, joined without parsing them."""
    more = len(rows) > limit
    cursor = f'"{encode_cursor(rows[limit - 1][0])}"' if more else "null"
    items = ",".join(item for _, item in rows[:limit])
    return f'{{"items":[{items}],"next_cursor":{cursor}}}'.encode()
