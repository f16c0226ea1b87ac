"""The keyform server's kinds: organization (a singleton), roles, users (keyed by email, with an
optional API key) and credentials (client id/secret pairs with overlapping rotation).

Each kind's schema fragment is in kinds.json (the messages of `keyform validate` come from it);
here are the canonical forms desired and live are compared in, and their inverse for export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from keyform.catalog import canonical_permissions
from keyform.contract import Kind, Rotation, SecretSource, SecretSpec

__all__ = ["KINDS", "canonical_permissions", "fragment", "kinds", "options_schema"]

USER_DEFAULTS = {
    "role": "standard",
    "roles": [],
    "job_title": "",
    "default_folder": "",
    "cognitive_access": False,
    "archived": False,
}
CREDENTIAL_DEFAULTS = {"integration": "", "enabled": True, "roles": [], "permissions": {}, "attributes": []}


def organization_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"api_access": spec["api_access"]} if spec.get("api_access") is not None else {}


def role_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "description": spec.get("description") or "",
        "permissions": canonical_permissions(spec.get("permissions") or {}),
        "attributes": sorted(spec.get("attributes") or ()),
    }


def user_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    get = spec.get
    attributes: dict[str, Any] = {
        "first_name": spec["first_name"],
        "last_name": spec["last_name"],
        "role": get("role", "standard"),
        "roles": sorted(get("roles") or ()),
        "job_title": get("job_title") or "",
        "default_folder": get("default_folder") or "",
        "cognitive_access": get("cognitive_access", False),
        "archived": get("archived", False),
    }
    api_key = get("api_key")
    if api_key is not None:
        attributes["api_key_enabled"] = api_key.get("enabled", True)
    return attributes


def credential_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "integration": spec.get("integration") or "",
        "enabled": spec.get("enabled", True),
        "roles": sorted(spec.get("roles") or ()),
        "permissions": canonical_permissions(spec.get("permissions") or {}),
        "attributes": sorted(spec.get("attributes") or ()),
    }


def export_role(attributes: Mapping[str, Any]) -> dict[str, Any]:
    entry = {
        "description": attributes["description"],
        "permissions": attributes["permissions"],
        "attributes": attributes["attributes"],
    }
    return {k: v for k, v in entry.items() if v not in ("", [], {})}


def export_user(attributes: Mapping[str, Any]) -> dict[str, Any]:
    entry = {"first_name": attributes["first_name"], "last_name": attributes["last_name"]}
    entry.update({k: attributes[k] for k, default in USER_DEFAULTS.items() if attributes.get(k) != default})
    if attributes.get("api_key_enabled") is not None:
        entry["api_key"] = {"enabled": attributes["api_key_enabled"]}
    return entry


def export_credential(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attributes[k] for k, default in CREDENTIAL_DEFAULTS.items() if attributes.get(k) != default}


def own_grants(attributes: Mapping[str, Any]) -> frozenset[str]:
    """What a role or credential grants by itself: `module:level` and `attribute:NAME`."""
    permissions, names = attributes.get("permissions"), attributes.get("attributes")
    grants = (
        {f"{module}:{level}" for module, levels in permissions.items() for level in levels} if permissions else set()
    )
    if names:
        grants.update(f"attribute:{name}" for name in names)
    return frozenset(grants)


@cache
def _fragments() -> dict[str, Any]:
    fragments: dict[str, Any] = json.loads((files(__package__) / "kinds.json").read_text(encoding="utf-8"))
    return fragments


def options_schema() -> dict[str, Any]:
    """The schema of the `provider:` options of type keyform (options.json)."""
    options: dict[str, Any] = json.loads((files(__package__) / "options.json").read_text(encoding="utf-8"))
    return options


def _fragment(kind: str) -> dict[str, Any]:
    fragment: dict[str, Any] = _fragments()[kind]
    return fragment


def fragment(kind: str, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of one kind's schema fragment (description, names, schema), with the properties in
    `without` left out: providers whose resources have the same shape reuse it (Personio's
    credentials, Predictive Index's users and organization)."""
    copied: dict[str, Any] = json.loads(json.dumps(_fragments()[kind]))
    for name in without:
        copied["schema"]["properties"].pop(name, None)
    return copied


NAME_HINT = (
    "is not a valid name: use up to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def _lower(name: str) -> str:
    return name.lower()


LEVELS = ("read", "write")  # `keyform fmt` writes a resource type's permission levels in this order


def kinds() -> tuple[Kind, ...]:
    """The four kinds, in the order the YAML and the plan show them."""
    return (
        Kind(
            name="organization",
            description=_fragment("organization")["description"],
            schema=_fragment("organization")["schema"],
            singleton=True,
            canonical=organization_attributes,
            export=dict,
            key_order=("api_access",),
        ),
        Kind(
            name="roles",
            noun="role",
            description=_fragment("roles")["description"],
            schema=_fragment("roles")["schema"],
            names=_fragment("roles")["names"],
            name_hint=NAME_HINT,
            canonical=role_attributes,
            export=export_role,
            grants=own_grants,
            rename_note="role names can't change on the keyform server",
            key_order=("description", "permissions", "attributes"),
            list_order={"permissions": LEVELS},
        ),
        Kind(
            name="users",
            noun="user",
            description=_fragment("users")["description"],
            schema=_fragment("users")["schema"],
            names=_fragment("users")["names"],
            name_hint="is not an email address",
            placeholder="EMAIL",
            key=_lower,
            key_note="emails are compared case-insensitively",
            renamable=True,  # an email change keeps the user's id and API key
            canonical=user_attributes,
            export=export_user,
            references={"roles": "roles"},
            secret=SecretSpec(
                source=SecretSource.API,
                rotation=Rotation.IMMEDIATE,
                noun="API key",
                policy_path=("api_key",),
                optional=True,
            ),
            # `roles` after `job_title`, as examples/ writes them (examples/access/people.yaml)
            key_order=(
                "first_name",
                "last_name",
                "role",
                "job_title",
                "roles",
                "default_folder",
                "cognitive_access",
                "archived",
                "api_key",
            ),
            nested_order={"api_key": ("enabled", "rotate_after", "rotation_requested")},
        ),
        Kind(
            name="credentials",
            noun="credential",
            description=_fragment("credentials")["description"],
            schema=_fragment("credentials")["schema"],
            names=_fragment("credentials")["names"],
            name_hint=NAME_HINT,
            canonical=credential_attributes,
            export=export_credential,
            references={"roles": "roles"},
            secret=SecretSpec(source=SecretSource.API, rotation=Rotation.OVERLAP, max_live=2, noun="client secret"),
            grants=own_grants,
            renamable=True,  # a new name keeps the credential's id, client id and secrets
            key_order=(
                "integration",
                "enabled",
                "roles",
                "permissions",
                "attributes",
                "rotate_after",
                "rotation_overlap",
                "rotation_requested",
            ),
            list_order={"permissions": LEVELS},
        ),
    )


KINDS = kinds()
