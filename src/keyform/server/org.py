"""The organisation singleton and the read-only operations: catalog, whoami, audit, stats."""

from __future__ import annotations

from typing import Any

from keyform.catalog import REFERENCE_CATALOG
from keyform.server import data_api
from keyform.server.auth import OWNER, require_owner
from keyform.server.context import Context, Route, created, diff, record_audit, stamps
from keyform.server.storage import Transaction
from keyform.server.tokens import iso, new_id
from keyform.server.users import issue_api_key
from keyform.server.validation import check_email, openapi_bytes
from keyform.server.web import Response, check_if_match, etag_of, page_body, page_params

RECOVERY_ACTOR = {"type": "local", "id": "recover-owner", "name": "keyform server --recover-owner"}


def _owner_row(email: str, now: str) -> dict[str, Any]:
    """A new Account Owner (with cognitive_access, like the first one)."""
    return {
        "id": new_id("usr"),
        "email": email,
        "email_lower": email.lower(),
        "first_name": email.split("@")[0],
        "last_name": "",
        "job_title": "Account Owner",
        "default_folder": "",
        "role": OWNER,
        "cognitive_access": True,
        "archived": False,
        "managed_by": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def create_organization(tx: Transaction, name: str, owner_email: str, now_ts: float) -> str:
    """Create the organisation, its first Account Owner (with a key) and the demo data.

    Returns the owner's API key; only its hash is stored.
    """
    now = iso(now_ts)
    check_email(owner_email)
    stamp = {"version": 1, "created_at": now, "updated_at": now}
    tx.insert("organization", {"id": new_id("org"), "name": name, "api_access": True, **stamp})
    user = _owner_row(owner_email, now)
    tx.insert("users", user)
    _, key = issue_api_key(tx, user["id"], now)
    data_api.seed(tx, now)
    return key


def recover_owner(tx: Transaction, email: str, now_ts: float) -> str:
    """Make `email` an active Account Owner with a fresh API key and switch api_access on.

    The way back in for an organisation left without a working owner key; it runs on the database
    file (local access only), never over HTTP. Returns the new key; only its hash is stored.
    """
    now = iso(now_ts)
    check_email(email)
    organization = tx.organization()
    assert organization is not None, "the caller checks that the organisation exists"
    user = tx.find("users", "email_lower", email.lower())
    if user is None:
        user = _owner_row(email, now)
        tx.insert("users", user)
        changes = created({"email": email, "role": OWNER})
    else:
        changes = diff(user, {"role": OWNER, "archived": False})
        values = {"role": OWNER, "archived": False, "version": user["version"] + 1, "updated_at": now}
        tx.update("users", user["id"], values)
    old = tx.api_keys_for([user["id"]]).get(user["id"])
    key, secret = issue_api_key(tx, user["id"], now)
    changes["api_key"] = [old["id"] if old else None, key["id"]]
    if not organization["api_access"]:
        values = {"api_access": True, "version": organization["version"] + 1, "updated_at": now}
        tx.update("organization", organization["id"], values)
        changes["organization.api_access"] = [False, True]
    target = {"kind": "user", "id": user["id"], "name": user["email"]}
    record_audit(tx, now, RECOVERY_ACTOR, "user.recover_owner", target, changes)
    return secret


def render(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "api_access": row["api_access"], **stamps(row)}


def _organization(ctx: Context) -> dict[str, Any]:
    row = ctx.tx.organization()
    assert row is not None, "the app refuses requests before initialisation"
    return row


def get_organization(ctx: Context) -> Response:
    row = _organization(ctx)
    return Response(200, render(row), etag_of(row))


def update_organization(ctx: Context) -> Response:
    row = _organization(ctx)
    check_if_match(ctx.request, etag_of(row))
    changes = diff(row, ctx.body)
    if "api_access" in changes:
        require_owner(ctx.actor, "switch api_access")
    if changes:
        values = {**ctx.body, "version": row["version"] + 1, "updated_at": ctx.now}
        ctx.tx.update("organization", row["id"], values)
        row = {**row, **values}
        ctx.audit("organization.update", "organization", row, "name", changes)
    return Response(200, render(row), etag_of(row))


def catalog(ctx: Context) -> Response:
    return Response(
        200,
        {
            "modules": [{"name": n, "read_only": r} for n, r in REFERENCE_CATALOG.modules.items()],
            "attributes": [{"name": n, "sensitive": s} for n, s in REFERENCE_CATALOG.attributes.items()],
        },
    )


def whoami(ctx: Context) -> Response:
    p = ctx.actor
    return Response(
        200,
        {
            "principal": p.ref(),
            "role": p.role,
            "can_manage": p.can_manage,
            "permissions": p.permissions,
            "attributes": p.attributes,
            "cognitive_access": p.cognitive_access,
        },
    )


def audit(ctx: Context) -> Response:
    after, limit = page_params(ctx.request)
    rows = ctx.tx.page("audit", after=after, limit=limit + 1)
    fields = ("id", "at", "actor", "action", "target", "changes")
    return Response(200, page_body(rows, limit, [{k: r[k] for k in fields} for r in rows]))


def stats(ctx: Context) -> Response:
    return Response(200, {"requests": ctx.stats.requests, "connections": ctx.stats.connections})


def health(ctx: Context) -> Response:
    return Response(200, {"status": "ok"})


def openapi(ctx: Context) -> Response:
    return Response(200, openapi_bytes(), content_type="application/yaml")


ROUTES = [
    Route("GET", "/v1/health", health, access="public"),
    Route("GET", "/v1/openapi.yaml", openapi, access="public"),
    Route("GET", "/v1/organization", get_organization),
    Route("PATCH", "/v1/organization", update_organization, write=True, body="OrganizationPatch"),
    Route("GET", "/v1/catalog", catalog, access="principal"),
    Route("GET", "/v1/whoami", whoami, access="principal"),
    Route("GET", "/v1/audit", audit),
    Route("GET", "/v1/server/stats", stats),
]
