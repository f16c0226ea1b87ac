"""The AWS IAM provider's reads and writes through boto3: live resources in the contract's shape,
and one change applied per call (the provider imports this module only when it connects).

Policies are identified by their ARN (`LiveResource.id`), users and groups by their IAM ids. IAM
has no etags: a change applies to what is live when it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from keyform.contract import Action, ApplyOutcome, Change, GeneratedSecret, LiveResource, SecretInfo
from keyform.errors import ProviderError
from keyform.providers.aws_iam import keys, writes
from keyform.providers.aws_iam.client import IamClient, Settings
from keyform.providers.aws_iam.kinds import data_form, live_attributes

log = logging.getLogger("keyform.providers.aws_iam")
SECRET_TYPE = "aws_access_key"
PUBLIC_FIELDS = ("aws_access_key_id",)  # the key id is no secret; the secret access key is


def plural(count: int, noun: str, nouns: str = "") -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def delivered(new: keys.NewAccessKey, address: str, retiring: str | None = None) -> GeneratedSecret:
    return GeneratedSecret(
        address, SECRET_TYPE, new.fields(), new.access_key_id, new.created_at, retiring, public=PUBLIC_FIELDS
    )


class IamBackend:
    """One IAM account: `read()` at the request floor, `apply()` one change."""

    def __init__(self, settings: Settings):
        self.client = IamClient(settings)

    def describe(self) -> str:
        partition, account = self.client.account()
        return f"{self.client.endpoint} (AWS {partition} account {account})"

    def identity(self) -> str | None:
        """The user keyform runs as (from sts:GetCallerIdentity), as an address; None for a role."""
        resource = self.client.caller_arn().split(":", 5)[-1]
        return f"users/{resource.rsplit('/', 1)[-1]}" if resource.startswith("user/") else None

    # -- read -----------------------------------------------------------------------------------

    def read(self) -> dict[str, LiveResource]:
        before = self.client.requests.total
        entries = self.client.read_all()
        self.client.account()  # who keyform runs as: protected from being deleted or disabled
        live = {address: self._live(address, entry) for address, entry in entries.items()}
        self._report(live, self.client.requests.total - before)
        return live

    def _live(self, address: str, entry: Mapping[str, Any]) -> LiveResource:
        secrets = tuple(SecretInfo(key_id, created) for key_id, created, _ in entry["secrets"])
        resource_id = entry["arn"] if address.startswith("policies/") else entry["id"]
        return LiveResource(address, live_attributes(entry["attributes"]), resource_id, None, entry["managed"], secrets)

    def _report(self, live: Mapping[str, LiveResource], requests: int) -> None:
        counts = {kind: sum(1 for a in live if a.startswith(f"{kind}/")) for kind in ("users", "groups", "policies")}
        by_operation = self.client.requests.by_operation
        pages, listings = by_operation["GetAccountAuthorizationDetails"], by_operation["ListAccessKeys"]
        log.info(
            "aws-iam: read %s, %s and %s in %s: %s of GetAccountAuthorizationDetails, %s (one per user) "
            "and 1 GetCallerIdentity",
            plural(counts["users"], "user"),
            plural(counts["groups"], "group"),
            plural(counts["policies"], "policy", "policies"),
            plural(requests, "request"),
            plural(pages, "page"),
            plural(listings, "ListAccessKeys", "ListAccessKeys"),
        )

    # -- apply ----------------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyOutcome:
        handler = {"users": self._user, "groups": self._group, "policies": self._policy}.get(change.kind)
        if handler is None:
            raise ProviderError(f"{change.address}: aws-iam has no kind {change.kind!r}")
        return handler(change)

    def _user(self, change: Change) -> ApplyOutcome:
        name, before, after = change.name, data_form(change.before), data_form(change.after)
        if change.action == Action.DELETE:
            writes.delete_user(self.client, name)
            return ApplyOutcome()
        if change.action == Action.ROTATE:
            return self._rotate(change)
        renamed = change.live_address != change.address
        if renamed:  # a `moved:` entry: the same user (id, access keys, groups, policies) under a new name
            writes.rename_user(self.client, change.live_address.partition("/")[2], name)
        if change.action == Action.CREATE:
            writes.create_user(self.client, name, after)
            before = {}
        elif change.action == Action.ADOPT:
            writes.adopt_user(self.client, name, before, after, renamed=renamed)
        else:
            writes.update_user(self.client, name, before, after, renamed=renamed)
        return self._key_status(change.address, before.get("access_key_enabled"), after.get("access_key_enabled"))

    def _key_status(self, address: str, had: bool | None, wanted: bool | None) -> ApplyOutcome:
        """Create the user's first key (delivered), or set the newest key Active/Inactive."""
        name = address.partition("/")[2]
        if wanted is None or had == wanted:
            return ApplyOutcome()
        live = self.client.access_keys(name)
        if had is None or not live:
            new = keys.create_access_key(self.client, name, live)
            if wanted is False:
                keys.set_access_key_status(self.client, name, new.access_key_id, active=False)
            return ApplyOutcome(secret=delivered(new, address))
        keys.set_access_key_status(self.client, name, live[-1][0], active=wanted)
        return ApplyOutcome()

    def _rotate(self, change: Change) -> ApplyOutcome:
        """Phases: add (a second key; the old one stays Active for the overlap), revoke (deactivate and
        delete the old key), immediate (add, then revoke), reissue (one fresh key, every other deleted)."""
        name, address = change.name, change.address
        phase, old = change.details.get("phase"), change.details.get("old_secret")
        live = self.client.access_keys(name)
        ids = [key_id for key_id, _, _ in live]
        if phase == "revoke":
            if old in ids:
                keys.retire_access_key(self.client, name, old)
            return ApplyOutcome()
        if phase == "reissue":
            stale = [key_id for key_id in change.details.get("old_secrets") or ids if key_id in ids]
            for key_id in stale[1:]:  # one stays until the fresh key exists
                keys.retire_access_key(self.client, name, key_id)
            new = keys.create_access_key(self.client, name, self.client.access_keys(name))
            if stale:
                keys.retire_access_key(self.client, name, stale[0])
            return ApplyOutcome(secret=delivered(new, address))
        new = keys.create_access_key(self.client, name, live)  # refused, with the reason, at two keys
        if phase == "immediate" and old in ids:
            keys.retire_access_key(self.client, name, old)
            return ApplyOutcome(secret=delivered(new, address))
        return ApplyOutcome(secret=delivered(new, address, retiring=old))

    def _group(self, change: Change) -> ApplyOutcome:
        name, before, after = change.name, data_form(change.before), data_form(change.after)
        if change.action == Action.DELETE:
            writes.delete_group(self.client, name)
        elif change.action == Action.CREATE:
            writes.create_group(self.client, name, after)
        elif change.action == Action.ADOPT:
            writes.adopt_group(self.client, name, before, after)
        else:
            writes.update_group(self.client, name, before, after)
        return ApplyOutcome()

    def _policy(self, change: Change) -> ApplyOutcome:
        name, after = change.name, data_form(change.after)
        if change.id:
            self.client.remember_policy(name, change.id)
        if change.action == Action.DELETE:
            writes.delete_policy(self.client, name)
        elif change.action == Action.CREATE:
            writes.create_policy(self.client, name, after)
        elif change.action in (Action.REPLACE, Action.ADOPT):
            self._replace_policy(name, after)
        elif data_form(change.before).get("document") != after.get("document"):
            writes.update_policy(self.client, name, after)
        return ApplyOutcome()

    def _replace_policy(self, name: str, after: Mapping[str, Any]) -> None:
        """AWS can't change a policy's description or path: a new policy under keyform's path, attached
        wherever the old one was, then the old one deleted."""
        old = self.client.policy_arn(name)
        holders: dict[str, list[str]] = {"users": [], "groups": [], "roles": []}
        for page in self.client.pages(
            f"policies/{name}: listing attachments", "list_entities_for_policy", PolicyArn=old
        ):
            holders["users"] += [user["UserName"] for user in page.get("PolicyUsers") or ()]
            holders["groups"] += [group["GroupName"] for group in page.get("PolicyGroups") or ()]
            holders["roles"] += [role["RoleName"] for role in page.get("PolicyRoles") or ()]
        writes.delete_policy(self.client, name)
        writes.create_policy(self.client, name, after)
        new = self.client.policy_arn(name)
        for kind, param in (("users", "UserName"), ("groups", "GroupName"), ("roles", "RoleName")):
            noun = kind[:-1]
            for holder in holders[kind]:
                self.client.call(
                    f"policies/{name}: attaching to {kind}/{holder}",
                    f"attach_{noun}_policy",
                    **{param: holder},
                    PolicyArn=new,
                )
