"""Custom roles: named bundles of module permissions and employee attributes."""

from __future__ import annotations

from typing import Any

from keyform.server.auth import scoped_values
from keyform.server.context import Context, Route, created, diff, stamps
from keyform.server.errors import conflict, invalid, not_found
from keyform.server.tokens import new_id
from keyform.server.web import Response, check_if_match, etag_of, page_body, page_params

FIELDS = ("name", "description", "permissions", "attributes", "managed_by")


def render(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], **{key: row[key] for key in FIELDS}, **stamps(row)}


def load(ctx: Context) -> dict[str, Any]:
    row = ctx.tx.get("roles", ctx.params["role_id"])
    if row is None:
        raise not_found("role", ctx.params["role_id"])
    return row


def list_roles(ctx: Context) -> Response:
    after, limit = page_params(ctx.request)
    name = ctx.request.param("name")
    rows = ctx.tx.page("roles", after=after, limit=limit + 1, equal=("name", name) if name else None)
    return Response(200, page_body(rows, limit, [render(row) for row in rows]))


def create_role(ctx: Context) -> Response:
    values: dict[str, Any] = {"description": "", "permissions": {}, "attributes": [], "managed_by": None}
    values.update(scoped_values(ctx.body, FIELDS))
    if ctx.tx.find("roles", "name", values["name"]):
        raise conflict(f"a role named {values['name']!r} already exists; choose another name")
    row = {"id": new_id("rol"), **values, "version": 1, "created_at": ctx.now, "updated_at": ctx.now}
    ctx.tx.insert("roles", row)
    ctx.audit("role.create", "role", row, "name", created(values))
    return Response(201, render(row), etag_of(row))


def get_role(ctx: Context) -> Response:
    row = load(ctx)
    return Response(200, render(row), etag_of(row))


def update_role(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    values = scoped_values(ctx.body, FIELDS)
    if values.get("name", row["name"]) != row["name"]:
        raise invalid(f"role names can't change ({row['name']!r}); create a new role instead", 400)
    changes = diff(row, values)
    if changes:
        values.update(version=row["version"] + 1, updated_at=ctx.now)
        ctx.tx.update("roles", row["id"], values)
        row = {**row, **values}
        ctx.audit("role.update", "role", row, "name", changes)
    return Response(200, render(row), etag_of(row))


def delete_role(ctx: Context) -> Response:
    row = load(ctx)
    check_if_match(ctx.request, etag_of(row))
    users, credentials = ctx.tx.role_usage(row["id"])
    if users or credentials:
        raise conflict(
            f"role {row['name']!r} is still used by {users} user(s) and {credentials} "
            "credential(s); detach it from them first"
        )
    ctx.tx.delete("roles", row["id"])
    ctx.audit("role.delete", "role", row, "name", {"name": [row["name"], None]})
    return Response(204)


ROUTES = [
    Route("GET", "/v1/roles", list_roles),
    Route("POST", "/v1/roles", create_role, write=True, body="RoleCreate"),
    Route("GET", "/v1/roles/{role_id}", get_role),
    Route("PATCH", "/v1/roles/{role_id}", update_role, write=True, body="RolePatch"),
    Route("DELETE", "/v1/roles/{role_id}", delete_role, write=True),
]
