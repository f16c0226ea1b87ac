"""The AWS IAM provider's rules for the engine's hooks: risks of policy diffs and key changes, the
third-key refusal, and the check that attached policies named by name are declared.

Pure functions over canonical attributes (no boto3). A change's risks are judged against the live
state the provider read: an identity's policies are its own, its groups' and the documents of the
managed policies they attach, as they are live, with the change applied. `risks(change)` sees one
change, so a user joining a group or attaching a policy that the same plan creates is judged without
that group's or policy's new documents; the policy's or group's own change names what it grants.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from keyform.contract import Action, Change, LiveResource, Risk, RiskCategory
from keyform.providers.aws_iam.kinds import data_form, is_arn
from keyform.providers.aws_iam.risks import Escalation, effective_documents, escalations, grants

MAX_KEYS = 2
Attributes = Mapping[str, Any]
KeyFacts = tuple[str, datetime, str]  # (access key id, created at, Active|Inactive)


def third_key_refusal(user: str, keys: Sequence[KeyFacts]) -> str | None:
    """Why a new key can't be created for `user` (it has AWS's maximum of two), or None."""
    if len(keys) < MAX_KEYS:
        return None
    ids = ", ".join(key_id for key_id, _, _ in keys)
    return (
        f"users/{user} already has two access keys ({ids}), the most AWS allows; keyform never attempts a "
        "third: wait for the rotation in progress to finish, or delete one of them"
    )


class World:
    """The live users, groups and policy documents a change is judged against."""

    def __init__(self, live: Mapping[str, LiveResource]):
        self.attributes: dict[str, Attributes] = {address: data_form(r.attributes) for address, r in live.items()}
        self.documents = self.of_kind("policies", "document")
        self.groups = self.of_kind("groups")

    def of_kind(self, kind: str, attribute: str | None = None) -> dict[str, Any]:
        prefix = f"{kind}/"
        return {
            address[len(prefix) :]: attributes[attribute] if attribute else attributes
            for address, attributes in self.attributes.items()
            if address.startswith(prefix) and (attribute is None or attribute in attributes)
        }

    def holders(self, policy: str) -> list[str]:
        """Identities that hold `policy` live: attached to them or to a group they are in."""
        groups = sorted(name for name, attrs in self.groups.items() if policy in (attrs.get("policies") or ()))
        users = sorted(
            name
            for name, attrs in self.of_kind("users").items()
            if policy in (attrs.get("policies") or ()) or set(groups) & set(attrs.get("groups") or ())
        )
        return [f"groups/{name}" for name in groups] + [f"users/{name}" for name in users]

    def documents_of(self, address: str, attributes: Attributes, documents: Mapping[str, Any]) -> dict[str, Any]:
        groups = self.groups if address.startswith("users/") else {}
        return effective_documents(attributes, policies=documents, groups=groups)


def _drift(found: Iterable[Escalation]) -> list[Risk]:
    """Grants the live state holds that the desired state does not: edited outside keyform, or taken back."""
    return [
        Risk(
            RiskCategory.ESCALATION,
            f"{e.identity} holds {e.grant} ({e.source}{', ' + e.statement if e.statement else ''}) now, which the "
            "desired state does not grant (changed outside keyform?); this plan takes it back",
        )
        for e in found
    ]


def _gains(found: Iterable[Escalation]) -> list[Risk]:
    return [Risk(RiskCategory.ESCALATION, str(e)) for e in found]


def identity_risks(change: Change, world: World) -> list[Risk]:
    """A user's or group's own change: what it gains, and what it holds live beyond the desired state."""
    live = world.attributes.get(change.address) or {}
    before = {} if change.action == Action.CREATE else live
    after = {**live, **data_form(change.after)}
    old = world.documents_of(change.address, before, world.documents)
    new = world.documents_of(change.address, after, world.documents)
    risks = _gains(
        escalations(
            change.address,
            old,
            new,
            boundary_before=before.get("permissions_boundary"),
            boundary_after=after.get("permissions_boundary"),
        )
    )
    if change.action in (Action.UPDATE, Action.ADOPT):
        risks += _drift(escalations(change.address, new, old))
    if before.get("access_key_enabled") is True and after.get("access_key_enabled") is False:
        risks.append(
            Risk(RiskCategory.BREAKING, f"{change.address}: access key set Inactive: what uses it stops working")
        )
    return risks


def policy_risks(change: Change, world: World) -> list[Risk]:
    """A managed policy's new document: what each identity holding it gains (or held beyond it, live)."""
    name, after = change.name, data_form(change.after).get("document")
    if after is None:
        return []
    holders = world.holders(name)
    if not holders:  # nobody holds it live: say what it grants to whoever it is attached to
        return [
            Risk(RiskCategory.ESCALATION, f"{change.address} grants {grant} ({label}) to whoever holds it")
            for grant, label in grants(after)
        ]
    changed = {**world.documents, name: after}
    risks: list[Risk] = []
    for holder in holders:
        attributes = world.attributes.get(holder) or {}
        old = world.documents_of(holder, attributes, world.documents)
        new = world.documents_of(holder, attributes, changed)
        risks += _gains(escalations(holder, old, new))
        if change.action != Action.CREATE:
            risks += _drift(escalations(holder, new, old))
    return risks


def change_risks(change: Change, live: Mapping[str, LiveResource]) -> list[Risk]:
    """The provider's risks of a create, update, replace or adopt (a delete's are the engine's)."""
    if change.action == Action.DELETE:
        return []
    world = World(live)
    if change.kind == "policies":
        return policy_risks(change, world)
    if change.kind in ("users", "groups"):
        return identity_risks(change, world)
    return []


def weakens(change: Change) -> str:
    if change.action == Action.DELETE:
        return "deleted"
    if change.action == Action.REPLACE:
        return "replaced"
    before, after = change.before or {}, change.after or {}
    if before.get("access_key_enabled") is True and after.get("access_key_enabled") is False:
        return "left without an active access key"
    return ""


def third_key_problems(
    replace: Iterable[str], changes: Sequence[Change], live: Mapping[str, LiveResource]
) -> list[str]:
    """A rotation asked for (--replace, `keyform rotate`) of a user that has two keys already and
    that the plan does not retire one of: refused with the reason, never a third key."""
    rotating = {change.address for change in changes if change.action == Action.ROTATE}
    problems = []
    for address in replace:
        resource = live.get(address)
        if resource is None or not address.startswith("users/") or address in rotating:
            continue
        facts = [(secret.id, secret.created_at, "") for secret in resource.secrets]
        reason = third_key_refusal(address.partition("/")[2], facts)
        if reason:
            problems.append(reason)
    return problems


def unknown_policies(data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """Attached policies and permissions boundaries named by name that no `policies:` entry declares
    (ARNs name policies keyform does not manage and are not checked)."""
    declared = set(_mapping(data.get("policies")))
    problems: list[tuple[tuple[str | int, ...], str, bool]] = []
    for kind in ("users", "groups"):
        for name, spec in _mapping(data.get(kind)).items():
            spec = _mapping(spec)
            attached = spec.get("policies")
            for index, policy in enumerate(attached if isinstance(attached, list) else ()):
                if isinstance(policy, str) and not is_arn(policy) and policy not in declared:
                    message = f"{kind}.{name}.policies: unknown policy {policy!r}{_hint(policy, declared)}"
                    problems.append(((kind, name, "policies", index), message, False))
            boundary = spec.get("permissions_boundary")
            if isinstance(boundary, str) and not is_arn(boundary) and boundary not in declared:
                message = f"{kind}.{name}.permissions_boundary: unknown policy {boundary!r}{_hint(boundary, declared)}"
                problems.append(((kind, name, "permissions_boundary"), message, False))
    return problems


def _hint(name: str, declared: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(declared), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return " (declare it under policies:, or name an AWS managed policy by its ARN)"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
