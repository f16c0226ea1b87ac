"""Writes for users, groups and customer-managed policies, each from canonical attributes.

`update_*` take the live (`before`) and desired (`after`) canonical attributes and send only the
calls that close the difference; an attribute absent from `after` is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.providers.aws_iam import canonical
from keyform.providers.aws_iam.client import POLICY_VERSION_LIMIT, IamClient, document_text, tag_list

Attributes = Mapping[str, Any]


def _sync_policies(client: IamClient, kind: str, name: str, before: Attributes, after: Attributes) -> None:
    """Attached and inline policies of a user or group: attach/detach, put/delete (the kind's own calls)."""
    noun, param = ("User", "UserName") if kind == "users" else ("Group", "GroupName")
    where = f"{kind}/{name}"
    if "policies" in after:
        old, new = set(before.get("policies") or ()), set(after["policies"] or ())
        for policy in sorted(new - old):
            client.call(
                f"{where}: attaching {policy}",
                f"attach_{noun.lower()}_policy",
                **{param: name},
                PolicyArn=client.policy_arn(policy),
            )
        for policy in sorted(old - new):
            client.call(
                f"{where}: detaching {policy}",
                f"detach_{noun.lower()}_policy",
                **{param: name},
                PolicyArn=client.policy_arn(policy),
            )
    if "inline_policies" in after:
        old_docs, new_docs = before.get("inline_policies") or {}, after["inline_policies"] or {}
        for policy, document in sorted(new_docs.items()):
            if old_docs.get(policy) != document:
                client.call(
                    f"{where}: inline policy {policy}",
                    f"put_{noun.lower()}_policy",
                    **{param: name},
                    PolicyName=policy,
                    PolicyDocument=document_text(document),
                )
        for policy in sorted(set(old_docs) - set(new_docs)):
            client.call(
                f"{where}: removing inline policy {policy}",
                f"delete_{noun.lower()}_policy",
                **{param: name},
                PolicyName=policy,
            )


# ---- users --------------------------------------------------------------------------------


def create_user(client: IamClient, name: str, after: Attributes) -> str:
    """Create a user with keyform's marker tag and everything declared; returns its id."""
    params: dict[str, Any] = {
        "UserName": name,
        "Path": after.get("path") or "/",
        "Tags": tag_list({**(after.get("tags") or {}), canonical.MARKER[0]: canonical.MARKER[1]}),
    }
    if after.get("permissions_boundary"):
        params["PermissionsBoundary"] = client.policy_arn(after["permissions_boundary"])
    user = client.call(f"users/{name}: creating", "create_user", **params)["User"]
    update_user(
        client,
        name,
        {
            "path": params["Path"],
            "tags": after.get("tags") or {},
            "permissions_boundary": after.get("permissions_boundary"),
        },
        after,
    )
    return str(user["UserId"])


def adopt_user(client: IamClient, name: str, before: Attributes, after: Attributes, *, renamed: bool = False) -> None:
    """Put keyform's marker on a live user, then bring it to the desired state."""
    client.call(f"users/{name}: adopting", "tag_user", UserName=name, Tags=tag_list(dict([canonical.MARKER])))
    update_user(client, name, before, after, renamed=renamed)


def _sync_user_tags(client: IamClient, name: str, before: Attributes, after: Attributes, *, moved: bool) -> None:
    old = before.get("tags") or {}
    new = after["tags"] or {} if "tags" in after else old
    send = {key: value for key, value in new.items() if moved or old.get(key) != value}
    if moved:  # moto keys tags by ARN and drops them when the path (part of the ARN) changes; on AWS
        send[canonical.MARKER[0]] = canonical.MARKER[1]  # re-sending equal tags changes nothing
    if send:
        client.call(f"users/{name}: tagging", "tag_user", UserName=name, Tags=tag_list(send))
    removed = sorted(set(old) - set(new))
    if removed:
        client.call(f"users/{name}: untagging", "untag_user", UserName=name, TagKeys=removed)


def rename_user(client: IamClient, old: str, new: str) -> None:
    """UpdateUser with NewUserName: the user keeps its id, access keys, groups and policies."""
    client.call(f"users/{old}: renaming to {new}", "update_user", UserName=old, NewUserName=new)


def update_user(client: IamClient, name: str, before: Attributes, after: Attributes, *, renamed: bool = False) -> None:
    """Bring a live user to `after`; `renamed`: it was just renamed (its ARN changed, as with a new path)."""
    where = f"users/{name}"
    repathed = "path" in after and (after["path"] or "/") != (before.get("path") or "/")
    if repathed:
        client.call(f"{where}: moving to path {after['path']}", "update_user", UserName=name, NewPath=after["path"])
    moved = repathed or renamed
    if "tags" in after or moved:
        _sync_user_tags(client, name, before, after, moved=moved)
    if "permissions_boundary" in after and after["permissions_boundary"] != before.get("permissions_boundary"):
        if after["permissions_boundary"]:
            client.call(
                f"{where}: permissions boundary",
                "put_user_permissions_boundary",
                UserName=name,
                PermissionsBoundary=client.policy_arn(after["permissions_boundary"]),
            )
        else:
            client.call(
                f"{where}: removing the permissions boundary", "delete_user_permissions_boundary", UserName=name
            )
    if "groups" in after:
        old_groups, new_groups = set(before.get("groups") or ()), set(after["groups"] or ())
        for group in sorted(new_groups - old_groups):
            client.call(f"{where}: joining groups/{group}", "add_user_to_group", UserName=name, GroupName=group)
        for group in sorted(old_groups - new_groups):
            client.call(f"{where}: leaving groups/{group}", "remove_user_from_group", UserName=name, GroupName=group)
    _sync_policies(client, "users", name, before, after)


# What a user holds that AWS requires gone before DeleteUser: (listing, items key, removing call,
# the item's id, what it is called in messages).
_USER_ATTACHMENTS = (
    ("list_mfa_devices", "MFADevices", "deactivate_mfa_device", "SerialNumber", "MFA device"),
    ("list_signing_certificates", "Certificates", "delete_signing_certificate", "CertificateId", "signing certificate"),
    ("list_ssh_public_keys", "SSHPublicKeys", "delete_ssh_public_key", "SSHPublicKeyId", "SSH key"),
    ("list_groups_for_user", "Groups", "remove_user_from_group", "GroupName", "group membership"),
)


def delete_user(client: IamClient, name: str) -> None:
    """Delete a user after removing what AWS requires first: keys, login profile, MFA devices, signing
    certificates, SSH keys, group memberships, attached and inline policies."""
    where = f"users/{name}"
    for key_id, _, _ in client.access_keys(name):
        client.call(f"{where}: deleting access key {key_id}", "delete_access_key", UserName=name, AccessKeyId=key_id)
    client.call_if_present(f"{where}: deleting the console password", "delete_login_profile", UserName=name)
    for listing, items, action, key, what in _USER_ATTACHMENTS:
        for page in client.pages(f"{where}: listing {what}s", listing, UserName=name):
            for item in page.get(items) or ():
                client.call(f"{where}: removing {what} {item[key]}", action, UserName=name, **{key: item[key]})
    _detach_all(client, "users", name)
    client.call(f"{where}: deleting", "delete_user", UserName=name)


def _detach_all(client: IamClient, kind: str, name: str) -> None:
    noun, param = ("user", "UserName") if kind == "users" else ("group", "GroupName")
    where = f"{kind}/{name}"
    for page in client.pages(f"{where}: listing attached policies", f"list_attached_{noun}_policies", **{param: name}):
        for policy in page.get("AttachedPolicies") or ():
            client.call(
                f"{where}: detaching {policy['PolicyName']}",
                f"detach_{noun}_policy",
                **{param: name},
                PolicyArn=policy["PolicyArn"],
            )
    for page in client.pages(f"{where}: listing inline policies", f"list_{noun}_policies", **{param: name}):
        for policy in page.get("PolicyNames") or ():
            client.call(
                f"{where}: removing inline policy {policy}", f"delete_{noun}_policy", **{param: name}, PolicyName=policy
            )


# ---- groups -------------------------------------------------------------------------------


def create_group(client: IamClient, name: str, after: Attributes) -> str:
    """Create a group under keyform's path (groups can't carry tags: the path is the marker)."""
    group = client.call(f"groups/{name}: creating", "create_group", GroupName=name, Path=canonical.KEYFORM_PATH)
    _sync_policies(client, "groups", name, {}, after)
    return str(group["Group"]["GroupId"])


def adopt_group(client: IamClient, name: str, before: Attributes, after: Attributes) -> None:
    """Move a live group under keyform's path (its ARN changes with the path), then update it."""
    client.call(f"groups/{name}: adopting", "update_group", GroupName=name, NewPath=canonical.KEYFORM_PATH)
    update_group(client, name, before, after)


def update_group(client: IamClient, name: str, before: Attributes, after: Attributes) -> None:
    _sync_policies(client, "groups", name, before, after)


def delete_group(client: IamClient, name: str) -> None:
    """Delete a group after removing its members and policies."""
    where = f"groups/{name}"
    for page in client.pages(f"{where}: listing members", "get_group", GroupName=name):
        for user in page.get("Users") or ():
            client.call(
                f"{where}: removing users/{user['UserName']}",
                "remove_user_from_group",
                GroupName=name,
                UserName=user["UserName"],
            )
    _detach_all(client, "groups", name)
    client.call(f"{where}: deleting", "delete_group", GroupName=name)


# ---- customer-managed policies --------------------------------------------------------------


def create_policy(client: IamClient, name: str, after: Attributes) -> str:
    """Create a customer-managed policy under keyform's path, tagged with keyform's marker."""
    params: dict[str, Any] = {
        "PolicyName": name,
        "Path": canonical.KEYFORM_PATH,
        "PolicyDocument": document_text(after["document"]),
        "Tags": tag_list(dict([canonical.MARKER])),
    }
    if after.get("description"):
        params["Description"] = after["description"]
    policy = client.call(f"policies/{name}: creating", "create_policy", **params)["Policy"]
    client.remember_policy(name, policy["Arn"])
    return str(policy["PolicyId"])


def update_policy(client: IamClient, name: str, after: Attributes) -> str:
    """A new default version with the desired document; at AWS's limit of five versions the oldest
    non-default one is deleted first. Returns the new version's id."""
    where = f"policies/{name}"
    arn = client.policy_arn(name)
    versions = [
        v
        for page in client.pages(f"{where}: listing versions", "list_policy_versions", PolicyArn=arn)
        for v in page.get("Versions") or ()
    ]
    if len(versions) >= POLICY_VERSION_LIMIT:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        client.call(
            f"{where}: pruning version {oldest['VersionId']}",
            "delete_policy_version",
            PolicyArn=arn,
            VersionId=oldest["VersionId"],
        )
    created = client.call(
        f"{where}: new version",
        "create_policy_version",
        PolicyArn=arn,
        PolicyDocument=document_text(after["document"]),
        SetAsDefault=True,
    )
    return str(created["PolicyVersion"]["VersionId"])


def delete_policy(client: IamClient, name: str) -> None:
    """Detach a policy from every user, group and role, delete its old versions, then the policy."""
    where = f"policies/{name}"
    arn = client.policy_arn(name)
    for page in client.pages(f"{where}: listing attachments", "list_entities_for_policy", PolicyArn=arn):
        for user in page.get("PolicyUsers") or ():
            client.call(
                f"{where}: detaching from users/{user['UserName']}",
                "detach_user_policy",
                UserName=user["UserName"],
                PolicyArn=arn,
            )
        for group in page.get("PolicyGroups") or ():
            client.call(
                f"{where}: detaching from groups/{group['GroupName']}",
                "detach_group_policy",
                GroupName=group["GroupName"],
                PolicyArn=arn,
            )
        for role in page.get("PolicyRoles") or ():
            client.call(
                f"{where}: detaching from role {role['RoleName']}",
                "detach_role_policy",
                RoleName=role["RoleName"],
                PolicyArn=arn,
            )
    for page in client.pages(f"{where}: listing versions", "list_policy_versions", PolicyArn=arn):
        for version in page.get("Versions") or ():
            if not version["IsDefaultVersion"]:
                client.call(
                    f"{where}: deleting version {version['VersionId']}",
                    "delete_policy_version",
                    PolicyArn=arn,
                    VersionId=version["VersionId"],
                )
    client.call(f"{where}: deleting", "delete_policy", PolicyArn=arn)
