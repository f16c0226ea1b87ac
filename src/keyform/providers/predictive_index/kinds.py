"""Predictive Index's kinds: `users` (Administration > User Management; each may own one API
key) and the `organization` singleton (`api_access`, switched by PI Support).

The same YAML shape as the keyform server's users and organization (whose semantics come from
PI's admin help page), so the schema fragments and canonical forms are the keyform provider's,
without `roles` (PI users have no custom roles: their org role decides what their key reaches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import Kind, Rotation, SecretSource, SecretSpec
from keyform.providers.keyform.kinds import export_user, fragment, organization_attributes, user_attributes

DEFAULT_API_URL = "https://integrations.predictiveindex.com/api/v1"


def attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form: the keyform server's user, without roles."""
    canonical = user_attributes(spec)
    del canonical["roles"]
    return canonical


def export(canonical: Mapping[str, Any]) -> dict[str, Any]:
    return export_user({**canonical, "roles": []})


def _lower(name: str) -> str:
    return name.lower()


_USERS = fragment("users", without=("roles",))
_ORGANIZATION = fragment("organization")
_ORGANIZATION["schema"]["properties"]["api_access"]["description"] = (
    "Whether the organisation's PI instance has API access (only PI Support switches it)."
)

USERS = Kind(
    name="users",
    noun="user",
    description="PI users by email (unique across the whole PI system, compared case-insensitively).",
    schema=_USERS["schema"],
    names=_USERS["names"],
    name_hint="is not an email address",
    placeholder="EMAIL",
    key=_lower,
    key_note="emails are compared case-insensitively",
    canonical=attributes,
    export=export,
    # "Generate New Key" deactivates the previous key at once
    secret=SecretSpec(
        source=SecretSource.API, rotation=Rotation.IMMEDIATE, noun="API key", policy_path=("api_key",), optional=True
    ),
    key_order=(
        "first_name",
        "last_name",
        "role",
        "job_title",
        "default_folder",
        "cognitive_access",
        "archived",
        "api_key",
    ),
    nested_order={"api_key": ("enabled", "rotate_after")},
)

ORGANIZATION = Kind(
    name="organization",
    description=_ORGANIZATION["description"],
    schema=_ORGANIZATION["schema"],
    singleton=True,
    canonical=organization_attributes,
    export=dict,
    key_order=("api_access",),
)

KINDS = (USERS, ORGANIZATION)
