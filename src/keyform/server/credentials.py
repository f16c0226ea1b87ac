"""Client credentials (Personio model), their rotating secrets, and the token exchange."""

from __future__ import annotations

from typing import Any

from keyform.server.auth import check_api_access, scoped_principal, scoped_values, unauthorized
from keyform.server.context import Context, Route, created, diff, json_page, stamps
from keyform.server.errors import conflict, not_found
from keyform.server.tokens import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_SECRET_PREFIX,
    hash_secret,
    new_client_id,
    new_id,
    new_secret,
)
from keyform.server.users import resolve_roles
from keyform.server.web import Response, check_if_match, etag_of, page_params

FIELDS = ("name", "integration", "enabled", "permissions", "attributes", "managed_by")
DEFAULTS = {"integration": "", "enabled": True, "permissions": {}, "attributes": [], "managed_by": None}
MAX_LIVE_SECRETS = 2
TOKEN_SECONDS = 3600


def render(row: dict[str, Any], roles: list[str], secrets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        **{key: row[key] for key in FIELDS},
        "roles": roles,
        "client_id": row["client_id"],
        "secrets": [{"id": s["id"], "created_at": s["created_at"]} for s in secrets],
        **stamps(row),
    }


def render_one(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    roles = ctx.tx.role_names_of("credentials", [row["id"]])[row["id"]]
    return render(row, roles, ctx.tx.secrets_of([row["id"]])[row["id"]])


def load(ctx: Context) -> dict[str, Any]:
    row = ctx.tx.get("credentials", ctx.params["credential_id"])
    if row is None:
        raise not_found("credential", ctx.params["credential_id"])
    return row


def _unique_name(ctx: Context, name: str) -> None:
    if ctx.tx.find("credentials", "name", name):
        raise conflict(f"a credential named {name!r} already exists; choose another name")


def _new_secret(ctx: Context, credential_id: str) -> tuple[dict[str, Any], str]:
    secret = new_secret(CLIENT_SECRET_PREFIX)
    row = {"id": new_id("sec"), "credential_id": credential_id, "hash": hash_secret(secret)}
    row["created_at"] = ctx.now
    ctx.tx.insert("client_secrets", row)
    return row, secret


def list_credentials(ctx: Context) -> Response:
    """One query renders the page (storage's `credential_items` has the shape of `render`)."""
    after, limit = page_params(ctx.request)
    name = ctx.request.param("name")
    rows = ctx.tx.credential_items(after=after, limit=limit + 1, name=name or None)
    return Response(200, json_page(rows, limit))


def create_credential(ctx: Context) -> Response:
    values = {**DEFAULTS, **scoped_values(ctx.body, FIELDS)}
    _unique_name(ctx, values["name"])
    roles = resolve_roles(ctx, ctx.body.get("roles", []))
    row = {"id": new_id("cred"), **values, "client_id": new_client_id()}
    row.update(version=1, created_at=ctx.now, updated_at=ctx.now)
    ctx.tx.insert("credentials", row)
    ctx.tx.set_roles("credentials", row["id"], [role["id"] for role in roles])
    secret_row, secret = _new_secret(ctx, row["id"])
    names = [role["name"] for role in roles]
    changes = created({**values, "roles": names, "client_id": row["client_id"]})
    ctx.audit("credential.create", "credential", row, "name", changes)
    body = {**render(row, names, [secret_row]), "client_secret": secret}
    return Response(201, body, etag_of(row))


def get_credential(ctx: Context) -> Response:
    row = load(ctx)
    return Response(200, render_one(ctx, row), etag_of(row))


def update_credential(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    values = scoped_values(ctx.body, FIELDS)
    changes = diff(row, values)
    current = ctx.tx.role_names_of("credentials", [row["id"]])[row["id"]]
    if "roles" in ctx.body:
        roles = resolve_roles(ctx, ctx.body["roles"])
        if [role["name"] for role in roles] != current:
            changes["roles"] = [current, [role["name"] for role in roles]]
            ctx.tx.set_roles("credentials", row["id"], [role["id"] for role in roles])
    if "name" in changes:
        _unique_name(ctx, values["name"])
    if values.get("enabled") is False and "enabled" in changes:
        ctx.tx.end_access_tokens(row["id"])
    if changes:
        values.update(version=row["version"] + 1, updated_at=ctx.now)
        ctx.tx.update("credentials", row["id"], values)
        row = {**row, **values}
        ctx.audit("credential.update", "credential", row, "name", changes)
    return Response(200, render_one(ctx, row), etag_of(row))


def delete_credential(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    ctx.tx.delete("credentials", row["id"])
    ctx.audit("credential.delete", "credential", row, "name", {"name": [row["name"], None]})
    return Response(204)


def add_secret(ctx: Context) -> Response:
    """A second live secret, so a rotation can overlap; 409 while two are live."""
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    live = ctx.tx.secrets_of([row["id"]])[row["id"]]
    if len(live) >= MAX_LIVE_SECRETS:
        raise conflict(
            f"credential {row['name']!r} already has {len(live)} live secrets; "
            "revoke the old one (DELETE .../secrets/{id}) first"
        )
    secret_row, secret = _new_secret(ctx, row["id"])
    ctx.tx.touch("credentials", row["id"], ctx.now)
    ids = [s["id"] for s in live]
    changes = {"secrets": [ids, [*ids, secret_row["id"]]]}
    ctx.audit("credential.secret.create", "credential", row, "name", changes)
    body = {"id": secret_row["id"], "created_at": secret_row["created_at"], "client_secret": secret}
    return Response(201, body, f'"{row["version"] + 1}"')


def revoke_secret(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    live = ctx.tx.secrets_of([row["id"]])[row["id"]]
    ids = [s["id"] for s in live]
    if ctx.params["secret_id"] not in ids:
        raise not_found("secret", ctx.params["secret_id"])
    if len(live) == 1:
        raise conflict(
            f"secret {ctx.params['secret_id']!r} is the only live secret of {row['name']!r}; "
            "add a new secret before revoking it"
        )
    ctx.tx.delete("client_secrets", ctx.params["secret_id"])  # its access tokens go with it
    ctx.tx.touch("credentials", row["id"], ctx.now)
    changes = {"secrets": [ids, [i for i in ids if i != ctx.params["secret_id"]]]}
    ctx.audit("credential.secret.delete", "credential", row, "name", changes)
    return Response(204, etag=f'"{row["version"] + 1}"')


def exchange_token(ctx: Context) -> Response:
    """Client credentials grant: a client id and a live secret buy a one-hour access token.

    The token ends sooner when its secret is revoked or its credential disabled (see storage).
    """
    found = ctx.tx.exchange_view(ctx.body["client_id"], hash_secret(ctx.body["client_secret"]))
    if found is None or found.secret is None:
        raise unauthorized("client_id or client_secret is wrong; check both (secrets are shown once)")
    row = found.credential
    if not row["enabled"]:
        raise unauthorized(f"credential {row['name']!r} is disabled; enable it first")
    principal = scoped_principal(row, found.roles)
    check_api_access({"api_access": found.api_access}, principal, management=False)
    token = new_secret(ACCESS_TOKEN_PREFIX)
    ctx.tx.add_access_token(hash_secret(token), found.secret, ctx.now_ts + TOKEN_SECONDS)
    scope = " ".join(f"{m}:{level}" for m, levels in principal.permissions.items() for level in levels)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "scope": scope}
    return Response(200, body, headers={"Cache-Control": "no-store"})


ROUTES = [
    Route("GET", "/v1/credentials", list_credentials),
    Route("POST", "/v1/credentials", create_credential, write=True, body="CredentialCreate"),
    Route("GET", "/v1/credentials/{credential_id}", get_credential),
    Route(
        "PATCH",
        "/v1/credentials/{credential_id}",
        update_credential,
        write=True,
        body="CredentialPatch",
    ),
    Route("DELETE", "/v1/credentials/{credential_id}", delete_credential, write=True),
    Route("POST", "/v1/credentials/{credential_id}/secrets", add_secret, write=True),
    Route("DELETE", "/v1/credentials/{credential_id}/secrets/{secret_id}", revoke_secret, write=True),
    Route(
        "POST",
        "/v1/oauth/token",
        exchange_token,
        access="public",
        write=True,
        body="TokenRequest",
        form_ok=True,
    ),
]
