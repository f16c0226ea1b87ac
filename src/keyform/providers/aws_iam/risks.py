"""Escalations in IAM policy diffs: who gains what, named by identity, policy and statement.

Pure functions over canonical attributes and policy documents (see `policy.py`); the plan's risk
hook maps each `Escalation` to the engine's risk type. A grant counts as an escalation when the
identity did not hold it before through any of its policies (its own, its groups', attached or
inline), so moving a statement between policies is not reported, while joining a group that
holds one is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from keyform.providers.aws_iam.policy import normalize_document, statements

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A grant worth a reviewer's eye: `action` (matched against the statement's patterns)."""

    action: str
    label: str
    on_star_only: bool = False  # only when the statement's Resource is "*"


RULES = (
    Rule(action="*", label="every action (*)"),
    Rule(action="iam:*", label="every IAM action (iam:*)"),
    Rule(action="iam:PassRole", label="iam:PassRole"),
    Rule(action="sts:AssumeRole", label="sts:AssumeRole", on_star_only=True),
    Rule(action="s3:*", label="every S3 action (s3:*)", on_star_only=True),
)
SUBSUMES = {"*": {"iam:*", "iam:PassRole", "sts:AssumeRole", "s3:*"}, "iam:*": {"iam:PassRole"}}

# AWS managed policies whose documents keyform can't read in the floor of requests but whose
# grants are well known (AWS's documentation of each managed policy).
WELL_KNOWN = {
    "arn:aws:iam::aws:policy/AdministratorAccess": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}],
    "arn:aws:iam::aws:policy/IAMFullAccess": [{"Effect": "Allow", "Action": ["iam:*"], "Resource": ["*"]}],
    "arn:aws:iam::aws:policy/AmazonS3FullAccess": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}],
    "arn:aws:iam::aws:policy/PowerUserAccess": [
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": ["*"]}
    ],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """`identity` gains `grant` through `source` (a policy, maybe by way of a group) at `statement`."""

    identity: str
    grant: str
    source: str
    statement: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}, {self.statement}" if self.statement else self.source
        return f"{self.identity} gains {self.grant} ({where})"


def _matches(rule: Rule, statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:  # allows every action but those listed
        covered = not any(fnmatchcase(rule.action.lower(), p.lower()) for p in statement["NotAction"])
    else:
        covered = any(fnmatchcase(rule.action.lower(), p.lower()) for p in statement.get("Action") or ())
    if not covered:
        return False
    return not rule.on_star_only or "NotResource" in statement or "*" in (statement.get("Resource") or ())


def _resources(statement: Mapping[str, Any]) -> str:
    if "NotResource" in statement:
        return "every resource but " + ", ".join(statement["NotResource"])
    return ", ".join(statement.get("Resource") or ()) or "no resource"


def grants(document: Document) -> list[tuple[str, str]]:
    """(grant, statement label) for every risky Allow in a document; a broader grant hides a narrower one."""
    out = []
    for label, statement in statements(normalize_document(document)):
        if statement.get("Effect") != "Allow":
            continue
        matched = [rule for rule in RULES if _matches(rule, statement)]
        hidden = {name for rule in matched for name in SUBSUMES.get(rule.action, ())}
        for rule in matched:
            if rule.action not in hidden:
                out.append((f"{rule.label} on {_resources(statement)}", label))
    return out


def escalations(
    identity: str,
    before: Mapping[str, Document],
    after: Mapping[str, Document],
    *,
    boundary_before: str | None = None,
    boundary_after: str | None = None,
) -> list[Escalation]:
    """What `identity` gains going from the `before` to the `after` documents (source label -> document).

    Build the mappings with `effective_documents`; a removed permissions boundary is an escalation too.
    """
    held = {grant for document in before.values() for grant, _ in grants(document)}
    found = [
        Escalation(identity=identity, grant=grant, source=source, statement=label)
        for source, document in sorted(after.items())
        for grant, label in grants(document)
        if grant not in held
    ]
    if boundary_before and not boundary_after:
        found.append(
            Escalation(identity=identity, grant="no permissions boundary", source=f"boundary {boundary_before} removed")
        )
    return found


def _managed(name: str, policies: Mapping[str, Document]) -> Document | None:
    if name in policies:
        return policies[name]
    if name in WELL_KNOWN:
        return {"Version": "2012-10-17", "Statement": WELL_KNOWN[name]}
    return None  # an AWS managed policy keyform doesn't know: no finding either way


def effective_documents(
    attributes: Mapping[str, Any],
    *,
    policies: Mapping[str, Document],
    groups: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Document]:
    """Every policy document an identity holds, by source label.

    `attributes` are a user's or group's canonical attributes; `policies` maps a customer-managed
    policy's name to its document; `groups` maps a group name to its canonical attributes.
    """
    out: dict[str, Document] = {}
    for name, document in (attributes.get("inline_policies") or {}).items():
        out[f"inline policy {name}"] = document
    for name in attributes.get("policies") or ():
        document = _managed(name, policies)
        if document is not None:
            out[f"policy {name}"] = document
    for group in attributes.get("groups") or ():
        inner = effective_documents((groups or {}).get(group) or {}, policies=policies)
        out.update({f"group {group}: {source}": document for source, document in inner.items()})
    return out
