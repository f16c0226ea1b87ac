"""Users and their API keys (Predictive Index model: at most one active key per user)."""

from __future__ import annotations

from typing import Any

from keyform.server.auth import ADMIN, OWNER, STANDARD, require_owner
from keyform.server.context import Context, Route, created, diff, json_page, stamps
from keyform.server.errors import ApiError, conflict, forbidden, invalid, not_found
from keyform.server.storage import Transaction
from keyform.server.tokens import API_KEY_PREFIX, hash_secret, new_id, new_secret
from keyform.server.validation import check_email
from keyform.server.web import Response, check_if_match, etag_of, page_params

FIELDS = (
    "email",
    "first_name",
    "last_name",
    "job_title",
    "default_folder",
    "role",
    "cognitive_access",
    "archived",
    "managed_by",
)
ROLE_RANK = {STANDARD: 0, ADMIN: 1, OWNER: 2}
DEFAULTS = {
    "job_title": "",
    "default_folder": "",
    "role": "standard",
    "cognitive_access": False,
    "archived": False,
    "managed_by": None,
}


def render_key(key: dict[str, Any]) -> dict[str, Any]:
    return {k: key[k] for k in ("id", "enabled", "created_at", "prefix")}


def render(row: dict[str, Any], roles: list[str], key: dict[str, Any] | None) -> dict[str, Any]:
    api_key = render_key(key) if key else None
    fields = {k: row[k] for k in FIELDS}
    return {"id": row["id"], **fields, "roles": roles, "api_key": api_key, **stamps(row)}


def render_one(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    roles = ctx.tx.role_names_of("users", [row["id"]])[row["id"]]
    return render(row, roles, ctx.tx.api_keys_for([row["id"]]).get(row["id"]))


def load(ctx: Context) -> dict[str, Any]:
    row = ctx.tx.get("users", ctx.params["user_id"])
    if row is None:
        raise not_found("user", ctx.params["user_id"])
    return row


def resolve_roles(ctx: Context, names: list[str]) -> list[dict[str, Any]]:
    """The custom roles named (sorted by name), or 422 naming the unknown ones."""
    found = ctx.tx.roles_by_name(sorted(set(names)))
    missing = sorted(set(names) - set(found))
    if missing:
        raise invalid(f"roles: unknown role(s) {', '.join(missing)}; create them first")
    return [found[name] for name in sorted(found)]


def _unique_email(ctx: Context, email: str) -> None:
    if ctx.tx.find("users", "email_lower", email.lower()):
        raise conflict(f"a user with email {email!r} already exists (emails are case-insensitive)")


def _guard_owner_target(ctx: Context, row: dict[str, Any]) -> None:
    if row["role"] == OWNER and not ctx.actor.is_owner:
        raise forbidden("only an Account Owner may change, archive or delete an Account Owner or manage their API key")


def _guard_cognitive_key(ctx: Context, row: dict[str, Any], action: str) -> None:
    """Only an Account Owner may make a key that reads cognitive data work (an Admin's key can't read it)."""
    if row["cognitive_access"] and not ctx.actor.is_owner:
        raise forbidden(
            f"only an Account Owner may {action} of {row['email']}, who has cognitive_access "
            "(that key would read cognitive data, which your own key can't)"
        )


def _widens(row: dict[str, Any], values: dict[str, Any], roles_before: list[str], roles_after: list[str] | None) -> str:
    """The change that would give the user's key more access (un-archive, promote, more roles), or ''."""
    if row["archived"] and values.get("archived") is False:
        return "un-archive"
    if ROLE_RANK[values.get("role", row["role"])] > ROLE_RANK[row["role"]]:
        return "promote"
    if roles_after is not None and set(roles_after) - set(roles_before):
        return "add custom roles to"
    return ""


def _guard_cognitive_user(ctx: Context, row: dict[str, Any], values: dict[str, Any], what: str) -> None:
    """A user who keeps cognitive_access gains access only by an Account Owner's change."""
    keeps = values.get("cognitive_access", row["cognitive_access"])
    if what and keeps and not ctx.actor.is_owner:
        raise forbidden(
            f"only an Account Owner may {what} {row['email']}, who has cognitive_access "
            "(their API key would gain access your own key doesn't have)"
        )


def _is_working_owner(ctx: Context, row: dict[str, Any]) -> bool:
    """An Account Owner who can still use the API (api_access off doesn't stop an owner's key managing)."""
    if row["role"] != OWNER or row["archived"]:
        return False
    key = ctx.tx.api_keys_for([row["id"]]).get(row["id"])
    return key is not None and key["enabled"]


def _guard_last_owner(ctx: Context, row: dict[str, Any], what: str) -> None:
    """Refuse to leave the organisation without an Account Owner whose API key works."""
    if _is_working_owner(ctx, row) and ctx.tx.count_working_owners() <= 1:
        raise conflict(
            f"{row['email']} is the last Account Owner with a working API key and can't {what}; "
            "give another Account Owner an enabled API key first"
        )


def list_users(ctx: Context) -> Response:
    """One query renders the page (storage's `user_items` has the shape of `render`)."""
    after, limit = page_params(ctx.request)
    email = ctx.request.param("email")
    rows = ctx.tx.user_items(after=after, limit=limit + 1, email_lower=email.lower() if email else None)
    return Response(200, json_page(rows, limit))


def create_user(ctx: Context) -> Response:
    values = {**DEFAULTS, **{k: ctx.body[k] for k in FIELDS if k in ctx.body}}
    check_email(values["email"])
    if values["role"] == OWNER:
        require_owner(ctx.actor, "create or promote a user to account_owner")
    if values["cognitive_access"]:
        require_owner(ctx.actor, "grant cognitive_access")
    _unique_email(ctx, values["email"])
    roles = resolve_roles(ctx, ctx.body.get("roles", []))
    row = {"id": new_id("usr"), **values, "email_lower": values["email"].lower()}
    row.update(version=1, created_at=ctx.now, updated_at=ctx.now)
    ctx.tx.insert("users", row)
    ctx.tx.set_roles("users", row["id"], [role["id"] for role in roles])
    names = [role["name"] for role in roles]
    ctx.audit("user.create", "user", row, "email", created({**values, "roles": names}))
    return Response(201, render(row, names, None), etag_of(row))


def get_user(ctx: Context) -> Response:
    row = load(ctx)
    return Response(200, render_one(ctx, row), etag_of(row))


def update_user(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    values = {k: ctx.body[k] for k in FIELDS if k in ctx.body}
    changes = diff(row, values)
    current = ctx.tx.role_names_of("users", [row["id"]])[row["id"]]
    roles = resolve_roles(ctx, ctx.body["roles"]) if "roles" in ctx.body else None
    if roles is not None and [role["name"] for role in roles] != current:
        changes["roles"] = [current, [role["name"] for role in roles]]
    if not changes:
        return Response(200, render_one(ctx, row), etag_of(row))
    _guard_owner_target(ctx, row)
    names = [role["name"] for role in roles] if roles is not None else None
    _guard_cognitive_user(ctx, row, values, _widens(row, values, current, names))
    if "email" in changes:
        check_email(values["email"])
        if values["email"].lower() != row["email_lower"]:
            _unique_email(ctx, values["email"])
        values["email_lower"] = values["email"].lower()
    if "role" in changes:
        if values["role"] == OWNER:
            require_owner(ctx.actor, "create or promote a user to account_owner")
        _guard_last_owner(ctx, row, "be demoted")
    if values.get("archived") and "archived" in changes:
        _guard_last_owner(ctx, row, "be archived")
    if values.get("cognitive_access") and "cognitive_access" in changes:
        require_owner(ctx.actor, "grant cognitive_access")
    if roles is not None and "roles" in changes:
        ctx.tx.set_roles("users", row["id"], [role["id"] for role in roles])
    values.update(version=row["version"] + 1, updated_at=ctx.now)
    ctx.tx.update("users", row["id"], values)
    row = {**row, **values}
    ctx.audit("user.update", "user", row, "email", changes)
    return Response(200, render_one(ctx, row), etag_of(row))


def delete_user(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    _guard_owner_target(ctx, row)
    _guard_last_owner(ctx, row, "be deleted")
    ctx.tx.delete("users", row["id"])
    ctx.audit("user.delete", "user", row, "email", {"email": [row["email"], None]})
    return Response(204)


def _load_key(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    key = ctx.tx.api_keys_for([row["id"]]).get(row["id"])
    if key is None:
        raise ApiError(404, "not_found", f"user {row['email']} has no API key; POST .../api-key to generate one")
    return key


def issue_api_key(tx: Transaction, user_id: str, now: str) -> tuple[dict[str, Any], str]:
    """Replace the user's key (if any) by a new enabled one; return its row and the key itself."""
    tx.delete_api_key_of(user_id)
    secret = new_secret(API_KEY_PREFIX)
    key = {
        "id": new_id("key"),
        "user_id": user_id,
        "hash": hash_secret(secret),
        "prefix": secret[:8],
        "enabled": True,
        "created_at": now,
    }
    tx.insert("api_keys", key)
    return key, secret


def create_key(ctx: Context) -> Response:
    """Generate a key; the previous one stops authenticating in the same transaction."""
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    _guard_owner_target(ctx, row)
    _guard_cognitive_key(ctx, row, "generate the API key")
    if row["archived"]:
        raise conflict(f"user {row['email']} is archived; unarchive them before generating a key")
    old = ctx.tx.api_keys_for([row["id"]]).get(row["id"])
    key, secret = issue_api_key(ctx.tx, row["id"], ctx.now)
    ctx.tx.touch("users", row["id"], ctx.now)
    changes = {"api_key": [old["id"] if old else None, key["id"]]}
    ctx.audit("user.api_key.create", "user", row, "email", changes)
    etag = f'"{row["version"] + 1}"'
    return Response(201, {**render_key(key), "api_key": secret}, etag)


def update_key(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    key = _load_key(ctx, row)
    enabled = ctx.body["enabled"]
    if enabled == key["enabled"]:
        return Response(200, render_key(key), etag_of(row))
    _guard_owner_target(ctx, row)
    if enabled:
        _guard_cognitive_key(ctx, row, "re-enable the API key")
    else:
        _guard_last_owner(ctx, row, "have their API key disabled")
    ctx.tx.update("api_keys", key["id"], {"enabled": enabled})
    ctx.tx.touch("users", row["id"], ctx.now)
    ctx.audit("user.api_key.update", "user", row, "email", {"api_key.enabled": [not enabled, enabled]})
    return Response(200, render_key({**key, "enabled": enabled}), f'"{row["version"] + 1}"')


def delete_key(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    key = _load_key(ctx, row)
    _guard_owner_target(ctx, row)
    _guard_last_owner(ctx, row, "have their API key deleted")
    ctx.tx.delete("api_keys", key["id"])
    ctx.tx.touch("users", row["id"], ctx.now)
    ctx.audit("user.api_key.delete", "user", row, "email", {"api_key": [key["id"], None]})
    return Response(204, etag=f'"{row["version"] + 1}"')


ROUTES = [
    Route("GET", "/v1/users", list_users),
    Route("POST", "/v1/users", create_user, write=True, body="UserCreate"),
    Route("GET", "/v1/users/{user_id}", get_user),
    Route("PATCH", "/v1/users/{user_id}", update_user, write=True, body="UserPatch"),
    Route("DELETE", "/v1/users/{user_id}", delete_user, write=True),
    Route("POST", "/v1/users/{user_id}/api-key", create_key, write=True),
    Route("PATCH", "/v1/users/{user_id}/api-key", update_key, write=True, body="ApiKeyPatch"),
    Route("DELETE", "/v1/users/{user_id}/api-key", delete_key, write=True),
]
