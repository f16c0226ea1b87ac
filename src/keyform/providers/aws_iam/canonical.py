"""Live IAM entities -> keyform's canonical attribute forms (plain dicts), from one authorization-details read.

Managed policies are named by their name when they are the account's own (customer-managed) and by
their ARN otherwise (AWS managed), in attachments and permissions boundaries alike, so the desired
state can write `deploy-artifacts` or `arn:aws:iam::aws:policy/ReadOnlyAccess`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from keyform.providers.aws_iam.policy import normalize_document

MARKER = ("managed-by", "keyform")  # the tag on users and policies keyform owns
KEYFORM_PATH = "/keyform/"  # groups (which can't be tagged) and policies keyform owns live under this path


def tags(items: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items or ()}


def has_marker(tag_map: Mapping[str, str]) -> bool:
    return tag_map.get(MARKER[0]) == MARKER[1]


def _name(arn: str | None, local: Mapping[str, str]) -> str | None:
    return None if arn is None else local.get(arn, arn)


def _inline(items: Iterable[Mapping[str, Any]] | None, where: str) -> dict[str, dict[str, Any]]:
    return {
        item["PolicyName"]: normalize_document(item["PolicyDocument"], f"{where} inline policy {item['PolicyName']}")
        for item in items or ()
    }


def _attached(items: Iterable[Mapping[str, str]] | None, local: Mapping[str, str]) -> list[str]:
    return sorted(local.get(item["PolicyArn"], item["PolicyArn"]) for item in items or ())


def key_facts(keys: Iterable[Mapping[str, Any]]) -> list[tuple[str, datetime, str]]:
    """(access key id, created at, Active|Inactive), oldest first; ListAccessKeys never returns a secret."""
    facts = [(key["AccessKeyId"], key["CreateDate"], key["Status"]) for key in keys]
    return sorted(facts, key=lambda fact: (fact[1], fact[0]))


def user_entry(
    detail: Mapping[str, Any], local: Mapping[str, str], keys: list[tuple[str, datetime, str]]
) -> dict[str, Any]:
    name = detail["UserName"]
    tag_map = tags(detail.get("Tags"))
    managed = has_marker(tag_map)
    if managed:
        del tag_map[MARKER[0]]
    boundary = (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    attributes = {
        "path": detail.get("Path") or "/",
        "tags": tag_map,
        "permissions_boundary": _name(boundary, local),
        "groups": sorted(detail.get("GroupList") or ()),
        "policies": _attached(detail.get("AttachedManagedPolicies"), local),
        "inline_policies": _inline(detail.get("UserPolicyList"), f"users/{name}"),
        "access_key_enabled": keys[-1][2] == "Active" if keys else None,
    }
    return {"id": detail["UserId"], "arn": detail["Arn"], "attributes": attributes, "managed": managed, "secrets": keys}


def group_entry(detail: Mapping[str, Any], local: Mapping[str, str]) -> dict[str, Any]:
    name = detail["GroupName"]
    attributes = {
        "policies": _attached(detail.get("AttachedManagedPolicies"), local),
        "inline_policies": _inline(detail.get("GroupPolicyList"), f"groups/{name}"),
    }
    managed = (detail.get("Path") or "/").startswith(KEYFORM_PATH)
    return {"id": detail["GroupId"], "arn": detail["Arn"], "attributes": attributes, "managed": managed, "secrets": []}


def policy_name(detail: Mapping[str, Any]) -> str:
    """A managed policy's name (moto leaves `PolicyName` out of authorization details; the ARN ends with it)."""
    return str(detail.get("PolicyName") or detail["Arn"].rsplit("/", 1)[-1])


def policy_entry(detail: Mapping[str, Any]) -> dict[str, Any]:
    name = policy_name(detail)
    default: Mapping[str, Any] = next(
        (v for v in detail.get("PolicyVersionList") or () if v.get("IsDefaultVersion")),
        {"Document": {}},
    )
    attributes = {
        "description": detail.get("Description") or "",
        "document": normalize_document(default["Document"], f"policies/{name}"),
    }
    managed = (detail.get("Path") or "/").startswith(KEYFORM_PATH)
    policy_id = detail.get("PolicyId") or detail["Arn"]  # moto leaves PolicyId out too
    return {"id": policy_id, "arn": detail["Arn"], "attributes": attributes, "managed": managed, "secrets": []}
