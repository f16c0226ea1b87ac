"""Escalations from policy diffs: the identity, what it gains, and the statement that grants it."""

from __future__ import annotations

from keyform.providers.aws_iam.risks import effective_documents, escalations, grants


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", sid=None, key="Action"):
    statement = {"Effect": "Allow", key: action, "Resource": resource}
    return {**statement, "Sid": sid} if sid else statement


def found(identity, before, after, **kwargs):
    return [str(e) for e in escalations(identity, before, after, **kwargs)]


def test_new_allow_of_every_action_names_identity_policy_and_sid():
    after = {"inline policy ops": doc(allow("s3:GetObject"), allow("*", sid="Break"))}
    assert found("users/alice", {}, after) == [
        "users/alice gains every action (*) on * (inline policy ops, statement 'Break')"
    ]


def test_each_rule_is_reported_and_a_broader_grant_hides_a_narrower_one():
    after = {
        "policy admin": doc(allow("iam:*")),
        "policy pass": doc(allow("iam:PassRole", "arn:aws:iam::123456789012:role/deploy")),
        "policy hop": doc(allow("sts:AssumeRole")),
        "policy data": doc(allow("s3:*")),
    }
    assert found("users/bob", {}, after) == [
        "users/bob gains every IAM action (iam:*) on * (policy admin, statement 1)",
        "users/bob gains every S3 action (s3:*) on * (policy data, statement 1)",
        "users/bob gains sts:AssumeRole on * (policy hop, statement 1)",
        "users/bob gains iam:PassRole on arn:aws:iam::123456789012:role/deploy (policy pass, statement 1)",
    ]
    assert [grant for grant, _ in grants(doc(allow(["iam:*", "iam:PassRole"])))] == ["every IAM action (iam:*) on *"]


def test_scoped_or_denied_grants_are_not_escalations():
    after = {
        "policy scoped": doc(
            allow("sts:AssumeRole", "arn:aws:iam::123456789012:role/x"), allow("s3:*", "arn:aws:s3:::b/*")
        ),
        "policy deny": doc({"Effect": "Deny", "Action": "*", "Resource": "*"}),
        "policy read": doc(allow("s3:GetObject")),
    }
    assert found("users/carol", {}, after) == []


def test_wildcards_and_not_action_count_as_the_grants_they_cover():
    after = {"policy wild": doc(allow("IAM:Pass*", "*", sid="Pass"), allow("ec2:*", key="NotAction"))}
    assert found("users/dan", {}, after) == [
        "users/dan gains iam:PassRole on * (policy wild, statement 'Pass')",
        "users/dan gains every action (*) on * (policy wild, statement 2)",
    ]


def test_a_grant_already_held_elsewhere_is_not_new():
    before = {"inline policy old": doc(allow("iam:*"))}
    after = {"policy new": doc(allow("iam:*", sid="Moved"))}
    assert found("users/erin", before, after) == []


def test_a_removed_permissions_boundary_is_an_escalation():
    assert found("users/fay", {}, {}, boundary_before="boundary-ci", boundary_after=None) == [
        "users/fay gains no permissions boundary (boundary boundary-ci removed)"
    ]
    assert found("users/fay", {}, {}, boundary_before="boundary-ci", boundary_after="boundary-wide") == []


def test_joining_a_group_with_a_risky_policy_is_an_escalation_through_the_group():
    policies = {"deploy": doc(allow("iam:PassRole", sid="PassAny"))}
    groups = {"deployers": {"policies": ["deploy"], "inline_policies": {}}}
    before = effective_documents({"groups": []}, policies=policies, groups=groups)
    after = effective_documents({"groups": ["deployers"]}, policies=policies, groups=groups)
    assert found("users/gus", before, after) == [
        "users/gus gains iam:PassRole on * (group deployers: policy deploy, statement 'PassAny')"
    ]


def test_well_known_aws_managed_policies_count_by_their_documented_grants():
    after = effective_documents(
        {"policies": ["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"]},
        policies={},
    )
    assert found("groups/admins", {}, after) == [
        "groups/admins gains every action (*) on * (policy arn:aws:iam::aws:policy/AdministratorAccess, statement 1)"
    ]


def test_an_edited_customer_policy_escalates_every_holder():
    old = {"deploy": doc(allow("s3:GetObject"))}
    new = {"deploy": doc(allow("s3:GetObject"), allow("s3:*", sid="All"))}
    user = {"policies": ["deploy"]}
    before = effective_documents(user, policies=old)
    after = effective_documents(user, policies=new)
    assert found("users/hal", before, after) == [
        "users/hal gains every S3 action (s3:*) on * (policy deploy, statement 'All')"
    ]
