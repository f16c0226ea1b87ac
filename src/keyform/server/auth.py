"""Principals (API keys and access tokens), their effective scopes, and who may do what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keyform.catalog import REFERENCE_CATALOG, canonical_permissions
from keyform.server.errors import ApiError, forbidden, invalid
from keyform.server.storage import Transaction
from keyform.server.tokens import ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, hash_secret

OWNER, ADMIN, STANDARD = "account_owner", "account_admin", "standard"
MANAGERS = (OWNER, ADMIN)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user's API key or a credential's access token, with effective scopes."""

    type: str  # "api_key" | "credential"
    id: str  # the user's id for api keys, the credential's id for tokens
    name: str  # the user's email or the credential's name
    role: str | None
    cognitive_access: bool
    permissions: dict[str, list[str]] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGERS

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    def ref(self) -> dict[str, str]:
        """The principal as an audit actor."""
        return {"type": self.type, "id": self.id, "name": self.name}

    def may(self, module: str, level: str) -> bool:
        return level in self.permissions.get(module, [])


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def merge_scopes(sources: Iterable[dict[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    """The union of the permissions and attributes of roles/credentials."""
    permissions: dict[str, set[str]] = {}
    attributes: set[str] = set()
    for source in sources:
        for module, levels in source["permissions"].items():
            permissions.setdefault(module, set()).update(levels)
        attributes.update(source["attributes"])
    return canonical_permissions(permissions), sorted(attributes)


def full_scopes() -> tuple[dict[str, list[str]], list[str]]:
    """What an Account Owner's or Admin's key may touch: everything (read-only modules read only)."""
    permissions = {
        module: ["read"] if read_only else ["read", "write"] for module, read_only in REFERENCE_CATALOG.modules.items()
    }
    return canonical_permissions(permissions), sorted(REFERENCE_CATALOG.attributes)


def authenticate(tx: Transaction, authorization: str | None, now_ts: float) -> Principal:
    """The principal behind an `Authorization: Bearer` header, or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("missing bearer token; send 'Authorization: Bearer <API key or token>'")
    if token.startswith(API_KEY_PREFIX):
        return _key_principal(tx, token)
    if token.startswith(ACCESS_TOKEN_PREFIX):
        credential = tx.credential_for_token(hash_secret(token), now_ts)
        if credential is None:
            raise unauthorized(
                "the access token is invalid or expired, or its secret was revoked or its credential "
                "disabled; exchange client credentials again"
            )
        if not credential["enabled"]:
            raise unauthorized(f"credential {credential['name']!r} is disabled; enable it first")
        return credential_principal(tx, credential)
    raise unauthorized("the bearer token is neither an API key (kfk_...) nor an access token (kft_...)")


def _key_principal(tx: Transaction, key: str) -> Principal:
    found = tx.key_and_user(hash_secret(key))
    if found is None:
        raise unauthorized("the API key is invalid or was replaced; use the user's current key")
    api_key, user = found
    if not api_key["enabled"]:
        raise unauthorized(f"the API key of {user['email']} is disabled; enable it or generate a new one")
    if user["archived"]:
        raise unauthorized(f"user {user['email']} is archived; their API key no longer works")
    if user["role"] in MANAGERS:
        permissions, attributes = full_scopes()
    else:
        permissions, attributes = merge_scopes(tx.roles_of("users", [user["id"]])[user["id"]])
    return Principal(
        "api_key",
        user["id"],
        user["email"],
        user["role"],
        user["cognitive_access"],
        permissions,
        attributes,
    )


def credential_principal(tx: Transaction, credential: dict[str, Any]) -> Principal:
    return scoped_principal(credential, tx.roles_of("credentials", [credential["id"]])[credential["id"]])


def scoped_principal(credential: dict[str, Any], roles: list[dict[str, Any]]) -> Principal:
    """A credential as a principal: its own scopes and those of its `roles`."""
    permissions, attributes = merge_scopes([credential, *roles])
    return Principal("credential", credential["id"], credential["name"], None, False, permissions, attributes)


def check_api_access(organization: dict[str, Any], principal: Principal, management: bool) -> None:
    """With api_access off only an Account Owner's key on the management API gets through."""
    if organization["api_access"]:
        return
    if management and principal.type == "api_key" and principal.is_owner:
        return
    raise ApiError(
        403,
        "api_access_disabled",
        "API access is turned off for this organisation; an Account Owner can switch it on "
        'with PATCH /v1/organization {"api_access": true}',
    )


def require_manager(principal: Principal) -> None:
    if principal.type != "api_key" or not principal.can_manage:
        raise forbidden("managing users, roles and credentials needs an Account Admin or Account Owner API key")


def require_owner(principal: Principal, action: str) -> None:
    if not principal.is_owner:
        raise forbidden(f"only an Account Owner may {action}")


def scoped_values(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The body's `fields`, permissions and attributes normalised and checked against the catalog."""
    values = {key: body[key] for key in fields if key in body}
    if "permissions" in values:
        values["permissions"] = canonical_permissions(values["permissions"])
    if "attributes" in values:
        values["attributes"] = sorted(set(values["attributes"]))
    check_scopes(values.get("permissions", {}), values.get("attributes", []))
    return values


def check_scopes(permissions: dict[str, list[str]], attributes: list[str]) -> None:
    """422 unless every module and attribute is in the catalog and read-only modules stay read."""
    catalog = REFERENCE_CATALOG
    for module, levels in permissions.items():
        if module not in catalog.modules:
            known = ", ".join(catalog.modules)
            raise invalid(f"permissions: unknown module {module!r}; known modules: {known}")
        if "write" in levels and catalog.is_read_only(module):
            raise invalid(f"permissions: module {module!r} is read only; grant only 'read'")
    unknown = sorted(set(attributes) - set(catalog.attributes))
    if unknown:
        raise invalid(f"attributes: unknown attribute(s) {', '.join(unknown)}; see GET /v1/catalog")
