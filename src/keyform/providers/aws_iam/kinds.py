"""The AWS IAM provider's kinds: users (with their access keys), groups and customer-managed policies.

Schema fragments, canonical forms (desired and live compare in them), export (their inverse) and
grants (what a resource lets its holders do, for the engine's "loses ..." findings). This module
does not import boto3: `keyform validate` and `keyform schema` work without it.

An attribute left out of a spec is left unmanaged: the canonical form holds only what was declared.
`customer_policies` is derived from `policies` (the names that are not ARNs): the attribute the
engine follows as a reference to `policies/NAME` (apply order, skipping dependents of a failure);
AWS managed policies are named by ARN and are nobody's reference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keyform.contract import Kind, Rotation, SecretSource, SecretSpec
from keyform.providers.aws_iam.policy import normalize_document, to_json

ENV_REFERENCE = r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$"
DURATION = {
    "type": "string",
    "pattern": "^[0-9]+[smhdw]$",
    "description": "A whole number and a unit: s, m, h, d or w (e.g. 90d).",
}
STRINGS = {"type": ["string", "array"], "items": {"type": "string"}, "minItems": 1}
STATEMENT = {
    "type": "object",
    "required": ["Effect"],
    "properties": {
        "Sid": {"type": "string"},
        "Effect": {"enum": ["Allow", "Deny"], "description": "Allow or Deny."},
        "Action": STRINGS,
        "NotAction": STRINGS,
        "Resource": STRINGS,
        "NotResource": STRINGS,
        "Principal": {},
        "NotPrincipal": {},
        "Condition": {"type": "object"},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["Action"]}, {"required": ["NotAction"]}],
}
DOCUMENT = {
    "type": "object",
    "description": "An IAM policy document (Version and Statement), written as YAML or JSON.",
    "required": ["Version", "Statement"],
    "properties": {
        "Version": {"enum": ["2012-10-17", "2008-10-17"]},
        "Id": {"type": "string"},
        "Statement": {  # one statement or a list (if/then, not oneOf: its errors name the statement's problem)
            "type": ["object", "array"],
            "items": STATEMENT,
            "minItems": 1,
            "if": {"type": "object"},
            "then": STATEMENT,
        },
    },
    "additionalProperties": False,
}
POLICY_LIST = {
    "type": "array",
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1},
    "description": "Attached managed policies: the account's own by name, AWS managed ones by ARN.",
}
INLINE = {
    "type": "object",
    "description": "Inline policies: name -> policy document.",
    "propertyNames": {"pattern": r"^[\w+=,.@-]{1,128}$"},
    "additionalProperties": DOCUMENT,
}
USER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "pattern": "^/([\\x21-\\x7e]*/)?$", "description": "IAM path (default /)."},
        "tags": {
            "type": "object",
            "description": "Tags (managed-by is keyform's ownership marker and can't be declared).",
            "propertyNames": {"not": {"const": "managed-by"}},
            "additionalProperties": {"type": "string"},
        },
        "permissions_boundary": {
            "type": ["string", "null"],
            "description": "The managed policy that bounds the user's permissions (name or ARN); null: none.",
        },
        "groups": {"type": "array", "uniqueItems": True, "items": {"type": "string"}, "description": "Groups."},
        "policies": POLICY_LIST,
        "inline_policies": INLINE,
        "access_key": {
            "type": "object",
            "description": "The user's access key. Absent: keyform leaves the user's keys alone.",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean", "description": "Active (true, the default) or Inactive."},
                "rotate_after": {**DURATION, "description": "Rotate the key when it is older than this (e.g. 90d)."},
                "rotation_overlap": {
                    **DURATION,
                    "description": "How long the old key stays Active after rotation; shorter than rotate_after.",
                },
            },
        },
    },
}
GROUP_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"policies": POLICY_LIST, "inline_policies": INLINE},
}
POLICY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["document"],
    "properties": {
        "description": {"type": "string", "maxLength": 1000, "description": "Can't change in place: replaces."},
        "document": DOCUMENT,
    },
}
NAME_CHARACTERS = r"[\w+=,.@-]"


def is_arn(name: str) -> bool:
    return name.startswith("arn:")


# The plan's renderers show lists of strings and mappings of lists of strings; so the canonical form
# holds tags as sorted `key=value` strings and policy documents as canonical JSON text (one-element
# lists under inline_policies). `data_form` turns it back into the shapes the IAM calls take.


def tag_strings(tags: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in sorted(tags.items())]


def tag_map(strings: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in strings)


def _texts(documents: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: [to_json(document)] for name, document in sorted(documents.items())}


def text_form(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes in data form (dict tags and documents) -> the canonical form plans compare and show."""
    out = dict(attributes)
    if isinstance(out.get("tags"), Mapping):
        out["tags"] = tag_strings(out["tags"])
    if isinstance(out.get("inline_policies"), Mapping):
        out["inline_policies"] = _texts(out["inline_policies"])
    if isinstance(out.get("document"), Mapping):
        out["document"] = to_json(out["document"])
    return out


def data_form(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The canonical form -> dict tags and policy documents (what writes and risk rules work on)."""
    out = dict(attributes or {})
    if isinstance(out.get("tags"), list):
        out["tags"] = tag_map(out["tags"])
    if isinstance(out.get("inline_policies"), Mapping):
        out["inline_policies"] = {name: json.loads(texts[0]) for name, texts in out["inline_policies"].items()}
    if isinstance(out.get("document"), str):
        out["document"] = json.loads(out["document"])
    return out


def _documents(spec: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {name: normalize_document(doc, f"{where} inline policy {name}") for name, doc in spec.items()}


def _attached(out: dict[str, Any], policies: Any) -> None:
    out["policies"] = sorted(set(policies or ()))
    out["customer_policies"] = [name for name in out["policies"] if not is_arn(name)]


def user_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A user spec -> canonical attributes (only what it declares)."""
    out: dict[str, Any] = {}
    if "path" in spec:
        out["path"] = spec["path"]
    if "tags" in spec:
        out["tags"] = tag_strings(spec["tags"] or {})
    if "permissions_boundary" in spec:
        out["permissions_boundary"] = spec["permissions_boundary"]
    if "groups" in spec:
        out["groups"] = sorted(set(spec["groups"] or ()))
    if "policies" in spec:
        _attached(out, spec["policies"])
    if "inline_policies" in spec:
        out["inline_policies"] = _texts(_documents(spec["inline_policies"] or {}, "users"))
    if spec.get("access_key") is not None:
        out["access_key_enabled"] = spec["access_key"].get("enabled", True)
    return out


def group_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "policies" in spec:
        _attached(out, spec["policies"])
    if "inline_policies" in spec:
        out["inline_policies"] = _texts(_documents(spec["inline_policies"] or {}, "groups"))
    return out


def policy_attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": spec.get("description") or "", "document": to_json(normalize_document(spec["document"]))}


def live_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Live attributes (canonical.py's data form) -> the canonical form, with `customer_policies`."""
    out = text_form(attributes)
    if "policies" in out:
        _attached(out, out["policies"])
    return out


def export_user(canonical: Mapping[str, Any]) -> dict[str, Any]:
    attributes = data_form(canonical)
    spec: dict[str, Any] = {}
    if attributes.get("path", "/") != "/":
        spec["path"] = attributes["path"]
    for key in ("tags", "groups", "policies", "inline_policies"):
        if attributes.get(key):
            spec[key] = attributes[key]
    if attributes.get("permissions_boundary"):
        spec["permissions_boundary"] = attributes["permissions_boundary"]
    if attributes.get("access_key_enabled") is not None:
        spec["access_key"] = {"enabled": attributes["access_key_enabled"]}
    return spec


def export_group(canonical: Mapping[str, Any]) -> dict[str, Any]:
    attributes = data_form(canonical)
    return {key: attributes[key] for key in ("policies", "inline_policies") if attributes.get(key)}


def export_policy(canonical: Mapping[str, Any]) -> dict[str, Any]:
    attributes = data_form(canonical)
    spec: dict[str, Any] = {"document": attributes["document"]}
    if attributes.get("description"):
        spec = {"description": attributes["description"], **spec}
    return spec


def document_grants(document: Mapping[str, Any]) -> set[str]:
    """`ACTION on RESOURCE` for every action and resource an Allow statement names."""
    grants: set[str] = set()
    for statement in document.get("Statement") or ():
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or [f"all but {', '.join(statement.get('NotAction') or ())}"]
        resources = statement.get("Resource") or [f"all but {', '.join(statement.get('NotResource') or ['*'])}"]
        grants.update(f"{action} on {resource}" for action in actions for resource in resources)
    return grants


def policy_grants(attributes: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(document_grants(data_form(attributes).get("document") or {}))


def inline_grants(attributes: Mapping[str, Any]) -> frozenset[str]:
    """A user's or group's own grants: its inline policies (attached ones come through references)."""
    grants: set[str] = set()
    for document in (data_form(attributes).get("inline_policies") or {}).values():
        grants |= document_grants(document)
    return frozenset(grants)


def names(length: int) -> dict[str, Any]:
    return {"pattern": f"^{NAME_CHARACTERS}{{1,{length}}}$"}


def name_hint(length: int) -> str:
    return f"is not a valid IAM name: up to {length} letters, digits and + = , . @ _ -"


KINDS = (
    Kind(
        name="policies",
        noun="policy",
        plural="policies",
        description="Customer-managed IAM policies by name (created under the path /keyform/).",
        schema=POLICY_SCHEMA,
        names=names(128),
        name_hint=name_hint(128),
        canonical=policy_attributes,
        export=export_policy,
        immutable=frozenset({"description"}),
        grants=policy_grants,
        key_order=("description", "document"),
    ),
    Kind(
        name="groups",
        noun="group",
        description="IAM groups by name (created under the path /keyform/, as groups can't be tagged).",
        schema=GROUP_SCHEMA,
        names=names(128),
        name_hint=name_hint(128),
        canonical=group_attributes,
        export=export_group,
        references={"customer_policies": "policies"},
        grants=inline_grants,
        key_order=("policies", "inline_policies"),
    ),
    Kind(
        name="users",
        noun="user",
        description="IAM users by name (tagged managed-by: keyform), with an optional access key.",
        schema=USER_SCHEMA,
        names=names(64),
        name_hint=name_hint(64),
        canonical=user_attributes,
        export=export_user,
        references={"groups": "groups", "customer_policies": "policies"},
        renamable=True,  # UpdateUser NewUserName: the same user id, access keys, groups and policies
        secret=SecretSpec(
            source=SecretSource.API,
            rotation=Rotation.OVERLAP,
            max_live=2,
            noun="access key",
            policy_path=("access_key",),
            optional=True,
        ),
        grants=inline_grants,
        key_order=(
            "path",
            "tags",
            "permissions_boundary",
            "groups",
            "policies",
            "inline_policies",
            "access_key",
        ),
        nested_order={"access_key": ("enabled", "rotate_after", "rotation_overlap")},
    ),
)


def options_schema() -> dict[str, Any]:
    """The `provider:` options of type aws-iam; unset ones come from the standard AWS chain."""
    secret = {"type": "string", "pattern": ENV_REFERENCE}
    return {
        "description": "Options of the AWS IAM provider; anything unset comes from the standard AWS chain.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": {"const": "aws-iam"},
            "profile": {"type": "string", "description": "An AWS profile (default: AWS_PROFILE, then default)."},
            "access_key_id": {"type": "string", "description": "e.g. ${env:AWS_ACCESS_KEY_ID}."},
            "secret_access_key": {**secret, "description": "Must be an ${env:NAME} reference."},
            "session_token": {**secret, "description": "Must be an ${env:NAME} reference."},
            "endpoint_url": {"type": "string", "description": "An IAM-compatible endpoint instead of AWS."},
            "region": {"type": "string", "description": "Signing region (IAM is global; default us-east-1)."},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Adaptive retries."},
            "workers": {"type": "integer", "minimum": 1, "maximum": 32, "description": "Concurrent key listings."},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 16, "description": "Concurrent changes."},
        },
    }
