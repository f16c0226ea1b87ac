"""The aws-iam provider's plugging into keyform: found without boto3 until it connects, the policy
name check, the third-key refusal, export that plans to nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from keyform.contract import Action, Change, LiveResource, SecretInfo
from keyform.providers.aws_iam import kinds, rules
from keyform.providers.aws_iam.provider import AwsIamProvider

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WITHOUT_BOTO3 = (
    "import sys; sys.modules['boto3'] = sys.modules['botocore'] = None; "
    "from keyform.__main__ import run; sys.argv = ['keyform', *sys.argv[1:]]; run()"
)


def keyform_without_boto3(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_BOTO3, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_without_boto3_validate_works_and_connecting_says_what_to_install():
    validated = keyform_without_boto3("-C", str(EXAMPLES / "aws-iam"), "validate")
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.endswith("valid (2 policies, 1 group, 3 users)\n")
    planned = keyform_without_boto3("-C", str(EXAMPLES / "aws-iam"), "plan")
    assert planned.returncode == 1
    assert planned.stderr == (
        "Error: provider.type aws-iam needs boto3, which is not installed: pip install 'keyform[aws]'\n"
    )
    other = keyform_without_boto3("-C", str(EXAMPLES), "validate", "--no-env")
    assert other.returncode == 0, other.stderr  # the keyform provider never needs boto3


def test_a_policy_named_by_name_must_be_declared_and_arns_are_not_checked():
    data = {
        "policies": {"artifacts-read": {}},
        "users": {"ci": {"policies": ["artifacts-reed", "arn:aws:iam::aws:policy/ReadOnlyAccess"]}},
        "groups": {"ops": {"policies": ["nothing-like-it"]}},
    }
    assert rules.unknown_policies(data) == [
        (("users", "ci", "policies", 0), "users.ci.policies: unknown policy 'artifacts-reed' (did you mean "
         "'artifacts-read'?)", False),
        (("groups", "ops", "policies", 0), "groups.ops.policies: unknown policy 'nothing-like-it' (declare it "
         "under policies:, or name an AWS managed policy by its ARN)", False),
    ]  # fmt: skip


def test_a_rotation_asked_for_a_user_with_two_keys_is_refused_with_the_reason():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    live = {
        "users/ci": LiveResource(
            "users/ci", {}, "U1", managed=True, secrets=(SecretInfo("AKIA1", at), SecretInfo("AKIA2", at))
        ),
        "users/one": LiveResource("users/one", {}, "U2", managed=True, secrets=(SecretInfo("AKIA3", at),)),
    }
    assert rules.third_key_problems(["users/ci", "users/one"], [], live) == [
        "users/ci already has two access keys (AKIA1, AKIA2), the most AWS allows; keyform never attempts a third: "
        "wait for the rotation in progress to finish, or delete one of them"
    ]
    revoking = [Change(Action.ROTATE, "users/ci", details={"phase": "revoke", "old_secret": "AKIA1"})]
    assert rules.third_key_problems(["users/ci"], revoking, live) == []


def test_export_of_live_attributes_plans_to_no_change():
    live = kinds.live_attributes(
        {
            "path": "/automation/",
            "tags": {"team": "platform"},
            "permissions_boundary": None,
            "groups": ["deployers"],
            "policies": ["artifacts-read", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "inline_policies": {
                "own": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"]}]}
            },
            "access_key_enabled": True,
        }
    )
    users = next(kind for kind in AwsIamProvider.kinds if kind.name == "users")
    desired = users.canonical(users.export(live))
    assert {key: live[key] for key in desired} == desired
    assert desired["customer_policies"] == ["artifacts-read"]
    assert live["tags"] == ["team=platform"]
