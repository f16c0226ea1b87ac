"""The keystone provider's kinds: projects, roles (with implied roles), users (with their role
assignments on projects) and application credentials (API-made secrets, rotated with overlap).

The canonical forms are cloud.py's live forms; nothing here needs keystoneauth1, so `keyform
validate` and `keyform schema` work without the `keystone` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import JSON, Kind, Rotation, SecretSource, SecretSpec
from keyform.providers.keystone.canonical import access_rules, expiry

NAME = {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
NAME_HINT = "is not a valid name: use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# A credential's Keystone name is NAME@YYYYMMDDTHHMMSSZ (255 characters at most).
CREDENTIAL_NAME = {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"}
STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}
DURATION = {"type": "string", "description": "A duration: a whole number and a unit (s, m, h, d, w), e.g. 90d."}
SECRET_NOUN = "application credential"


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


PROJECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "domain": _text("The project's domain (default Default); changing it is a replace."),
        "description": _text("What the project is for."),
        "enabled": {"type": "boolean", "description": "Default true."},
        "tags": {**STRINGS, "description": "Project tags (keyform adds keyform-managed, its ownership marker)."},
    },
}
ROLE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": _text("What the role is for."),
        "implies": {**STRINGS, "description": "Roles this one implies: whoever holds it holds them too."},
    },
}
USER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "domain": _text("The user's domain (default Default); changing it is a replace."),
        "description": _text("What the (service) user is for."),
        "email": _text("A contact address."),
        "enabled": {"type": "boolean", "description": "Default true; false stops every credential it owns."},
        "default_project": _text("A project under projects:."),
        "projects": {
            "type": "object",
            "description": "The roles the user holds on each project: {project: [role, ...]}.",
            "additionalProperties": STRINGS,
        },
    },
}
RULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["service", "method", "path"],
    "properties": {
        "service": _text("A service type of the cloud's catalog, e.g. compute."),
        "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]},
        "path": {"type": "string", "minLength": 1, "description": "An API path; * matches a segment, ** several."},
    },
}
CREDENTIAL_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["owner", "project", "roles"],
    "properties": {
        "owner": _text("The user under users: that owns it (keyform acts as that user to create it)."),
        "project": _text("The project (under projects:) it is scoped to."),
        "roles": {**STRINGS, "minItems": 1, "description": "A subset of the owner's roles on the project."},
        "expires_at": {
            "type": ["string", "null"],
            "pattern": r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?$",
            "description": "When it stops working (UTC unless an offset is given); none: never (an escalation).",
        },
        "unrestricted": {
            "type": "boolean",
            "description": "Default false; true lets it create credentials and trusts (an escalation).",
        },
        "description": _text("What uses it."),
        "access_rules": {"type": "array", "items": RULE_SCHEMA, "description": "The only API calls it may make."},
        "rotate_after": DURATION,
        "rotation_overlap": DURATION,
    },
}


def project_attributes(spec: JSON) -> dict[str, Any]:
    return {
        "domain": spec.get("domain") or "Default",
        "description": spec.get("description") or "",
        "enabled": spec.get("enabled", True),
        "tags": sorted(spec.get("tags") or ()),
    }


def role_attributes(spec: JSON) -> dict[str, Any]:
    return {"description": spec.get("description") or "", "implies": sorted(spec.get("implies") or ())}


def user_attributes(spec: JSON) -> dict[str, Any]:
    projects = spec.get("projects") or {}
    return {
        "domain": spec.get("domain") or "Default",
        "description": spec.get("description") or "",
        "email": spec.get("email") or "",
        "enabled": spec.get("enabled", True),
        "default_project": spec.get("default_project") or None,
        "projects": {project: sorted(roles) for project, roles in sorted(projects.items()) if roles},
    }


def credential_attributes(spec: JSON) -> dict[str, Any]:
    return {
        "owner": spec["owner"],
        "project": spec["project"],
        "roles": sorted(spec["roles"]),
        "description": spec.get("description") or "",
        "expires_at": expiry(spec.get("expires_at")),
        "unrestricted": bool(spec.get("unrestricted", False)),
        "access_rules": access_rules(spec.get("access_rules")),
    }


DEFAULTS: dict[str, Any] = {
    "domain": "Default",
    "description": "",
    "email": "",
    "enabled": True,
    "default_project": None,
    "tags": [],
    "implies": [],
    "projects": {},
    "unrestricted": False,
    "access_rules": [],
}


def export(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The shortest spec: every attribute that differs from its default (expires_at always: null means never)."""
    return {k: v for k, v in attributes.items() if k == "expires_at" or k not in DEFAULTS or DEFAULTS[k] != v}


def user_grants(attributes: Mapping[str, Any]) -> frozenset[str]:
    """`project:NAME:ROLE` for every role the user holds on a project."""
    projects = attributes.get("projects") or {}
    return frozenset(f"project:{project}:{role}" for project, roles in projects.items() for role in roles)


def credential_grants(attributes: Mapping[str, Any]) -> frozenset[str]:
    """`project:NAME:ROLE` for the credential's project and roles (never more than its owner holds)."""
    return frozenset(f"project:{attributes.get('project')}:{role}" for role in attributes.get("roles") or ())


PROJECTS = Kind(
    name="projects",
    noun="project",
    description="Keystone projects by name (in provider.domains).",
    schema=PROJECT_SCHEMA,
    names=NAME,
    name_hint=NAME_HINT,
    canonical=project_attributes,
    export=export,
    immutable=frozenset({"domain"}),
    key_order=("domain", "description", "enabled", "tags"),
)
ROLES = Kind(
    name="roles",
    noun="role",
    description="Keystone roles by name, and the roles each implies.",
    schema=ROLE_SCHEMA,
    names=NAME,
    name_hint=NAME_HINT,
    canonical=role_attributes,
    export=export,
    key_order=("description", "implies"),
)
# A credential doesn't reference its owner: the engine would add the owner's grants (all its
# projects) to the credential's, and a credential reaches only its own project and roles. The
# owner is checked by rules.check_document; credential changes run last (rules.runs_last).
USERS = Kind(
    name="users",
    noun="user",
    description="Keystone (service) users by name, with the roles each holds on each project.",
    schema=USER_SCHEMA,
    names=NAME,
    name_hint=NAME_HINT,
    canonical=user_attributes,
    export=export,
    references={"default_project": "projects", "projects": "projects"},
    immutable=frozenset({"domain"}),
    grants=user_grants,
    key_order=("domain", "description", "email", "enabled", "default_project", "projects"),
)
APPLICATION_CREDENTIALS = Kind(
    name="application_credentials",
    noun="application credential",
    description="Application credentials by name: owner, project, roles, expiry, access rules.",
    schema=CREDENTIAL_SCHEMA,
    names=CREDENTIAL_NAME,
    name_hint="is not a valid name: use up to 200 letters, digits, '.', '_' or '-', starting with one of the first two",
    canonical=credential_attributes,
    export=export,
    references={"project": "projects"},
    # Keystone can't update an application credential (PATCH is 405): every change is a replace.
    immutable=frozenset(credential_attributes({"owner": "", "project": "", "roles": []})),
    secret=SecretSpec(source=SecretSource.API, rotation=Rotation.OVERLAP, max_live=2, noun=SECRET_NOUN),
    grants=credential_grants,
    key_order=(
        "owner",
        "project",
        "roles",
        "expires_at",
        "unrestricted",
        "description",
        "access_rules",
        "rotate_after",
        "rotation_overlap",
    ),
)
KINDS = (PROJECTS, ROLES, USERS, APPLICATION_CREDENTIALS)

OPTIONS_SCHEMA: dict[str, Any] = {
    "description": "Options of the OpenStack Keystone provider (the names clouds.yaml uses).",
    "additionalProperties": False,
    "required": ["auth_url"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "description": "keystone"},
        "auth_url": _text("Keystone's identity endpoint, with or without /v3: ${env:OS_AUTH_URL}."),
        "username": _text("keyform's admin user: ${env:OS_USERNAME}."),
        "password": {
            "type": "string",
            "pattern": "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$",
            "description": "Its password: ${env:OS_PASSWORD} (never a literal).",
        },
        "project_name": _text("The project keyform's user logs in to: ${env:OS_PROJECT_NAME}."),
        "user_domain_name": _text("Default: Default."),
        "project_domain_name": _text("Default: Default."),
        "application_credential_id": _text("Instead of a password: ${env:OS_APPLICATION_CREDENTIAL_ID}."),
        "application_credential_secret": {
            "type": "string",
            "pattern": "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$",
            "description": "${env:OS_APPLICATION_CREDENTIAL_SECRET} (never a literal).",
        },
        "token": {
            "type": "string",
            "pattern": "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$",
            "description": "A token instead: ${env:OS_TOKEN}.",
        },
        "domains": {**STRINGS, "minItems": 1, "description": "The domains keyform manages (default [Default])."},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Users and projects a page."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Seconds per request (default 30)."},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 64, "description": "Changes applied at once."},
    },
}
