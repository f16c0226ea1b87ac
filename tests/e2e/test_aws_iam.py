"""aws-iam end to end through the `keyform` command, against moto's IAM/STS emulator in server mode
with request authentication on (tests/providers/aws_iam/conftest.py): what these tests see is AWS's
behaviour as moto emulates it.

The example is applied as it is, except its `permissions_boundary` lines: moto does not implement
user permissions boundaries (it drops them on CreateUser and answers PutUserPermissionsBoundary
with "not implemented"), so a boundary would read back as none and re-plan forever. The boundary's
reads and writes are checked in AWS's documented shapes with botocore's Stubber
(tests/providers/aws_iam/test_aws_shapes.py, test_provider.py). AWS managed policies exist in moto only
with MOTO_IAM_LOAD_MANAGED_POLICIES, which this module's emulator sets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from keyform.cli import main
from tests.providers.aws_iam.conftest import Account, Moto, fresh_account, running_moto

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aws-iam" / "keyform.yaml"
SNEAKY = {"Sid": "Sneaky", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}


@dataclass
class AwsProject:
    """A working copy of the example against a fresh emulated account, and everything keyform printed."""

    account: Account
    workdir: Path
    outputs: list[str] = field(default_factory=list)

    def keyform(self, *args: str) -> Result:
        result = CliRunner().invoke(main, ["-C", str(self.workdir), *args], catch_exceptions=False)
        self.outputs.append(result.stdout + result.stderr)
        return result

    @property
    def config(self) -> Path:
        return self.workdir / "keyform.yaml"

    def edit(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text
        self.config.write_text(text.replace(old, new))

    def sink(self) -> dict:
        return json.loads((self.workdir / ".keyform" / "secrets.json").read_text())

    def secrets(self) -> list[str]:
        """Every secret access key the sink ever held (current and retiring) and keyform's own."""
        values = [self.account.admin_secret]
        for entry in self.sink().values():
            for part in (entry, entry.get("retiring") or {}):
                if part.get("aws_secret_access_key"):
                    values.append(part["aws_secret_access_key"])
        return values

    def iam(self):
        return self.account.boto("iam")

    def caller(self, key_id: str, secret: str) -> str:
        sts = boto3.client(
            "sts",
            endpoint_url=self.account.url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        return sts.get_caller_identity()["Arn"]

    def assert_no_secret_leaked(self) -> None:
        files = [p for p in (self.workdir / ".keyform").rglob("*") if p.is_file() and p.name != "secrets.json"]
        files += list(self.workdir.glob("*.json"))
        texts = [*self.outputs, *(p.read_text(errors="replace") for p in files)]
        for secret in self.secrets():
            for text in texts:
                assert secret not in text


@pytest.fixture(scope="module")
def moto_with_managed_policies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    log = tmp_path_factory.mktemp("moto-managed") / "moto.log"
    with running_moto(log, MOTO_IAM_LOAD_MANAGED_POLICIES="true") as moto:
        yield moto


@pytest.fixture
def project(moto_with_managed_policies: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AwsProject:
    account = fresh_account(moto_with_managed_policies, monkeypatch, tmp_path)
    workdir = tmp_path / "aws"
    workdir.mkdir()
    text = EXAMPLE.read_text()
    text = re.sub(r"\n +permissions_boundary: boundary-automation", "", text)  # moto: see the module docstring
    (workdir / "keyform.yaml").write_text(text)
    return AwsProject(account, workdir)


def applied(project: AwsProject) -> AwsProject:
    result = project.keyform("apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return project


def test_the_example_validates_as_it_is():
    result = CliRunner().invoke(main, ["-C", str(EXAMPLE.parent), "validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("keyform.yaml: valid (2 policies, 1 group, 3 users)\n")


def test_apply_the_example_then_a_second_plan_is_empty_and_every_key_verifies(project):
    first = project.keyform("-v", "plan")
    assert first.exit_code == 0, first.output
    assert "keyform: INFO: aws-iam: read 1 user, 0 groups and 0 policies in 3 requests: 1 page of " in first.stderr
    apply = project.keyform("-v", "apply", "--auto-approve")
    assert apply.exit_code == 0, apply.output
    assert "2 new secret(s) delivered to" in apply.stdout
    sink = project.sink()
    assert sorted(sink) == ["users/ci-deploy", "users/reporting-export"]
    for address, entry in sink.items():
        assert entry["aws_access_key_id"].startswith("AKIA")
        arn = project.caller(entry["aws_access_key_id"], entry["aws_secret_access_key"])
        assert arn == f"arn:aws:iam::123456789012:user/automation/{address.partition('/')[2]}"
    second = project.keyform("-v", "plan", "--detailed-exitcode")
    assert second.exit_code == 0, second.output
    assert "No changes" in second.stdout
    assert (
        "aws-iam: read 4 users, 1 group and 2 policies in 6 requests: 1 page of GetAccountAuthorizationDetails, "
        "4 ListAccessKeys (one per user) and 1 GetCallerIdentity" in second.stderr
    )
    verify = project.keyform("verify")
    assert verify.exit_code == 0, verify.output
    assert "ok   users/ci-deploy: access key" in verify.stdout
    assert "ok   users/reporting-export: access key" in verify.stdout
    assert "2 ok, 0 failed" in verify.stdout
    tags = project.iam().list_user_tags(UserName="ci-deploy")["Tags"]
    assert {"Key": "managed-by", "Value": "keyform"} in tags
    project.assert_no_secret_leaked()


def test_an_out_of_band_policy_edit_is_drift_with_the_escalation_named_in_every_format(project):
    applied(project)
    iam = project.iam()
    arn = next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "artifacts-read")
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    document = json.loads(version) if isinstance(version, str) else version
    document["Statement"].append(SNEAKY)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)

    expected = (
        "users/ci-deploy holds iam:PassRole on * (group deployers: policy artifacts-read, statement 'Sneaky') now, "
        "which the desired state does not grant (changed outside keyform?); this plan takes it back"
    )
    text = project.keyform("plan", "--detailed-exitcode")
    assert text.exit_code == 2, text.output
    assert "~ policies/artifacts-read" in text.stdout
    assert expected in text.stdout
    assert "users/reporting-export holds iam:PassRole on * (policy artifacts-read, statement 'Sneaky')" in text.stdout
    markdown = project.keyform("plan", "--format", "markdown", "--detailed-exitcode")
    assert markdown.exit_code == 2
    assert expected in markdown.stdout
    as_json = project.keyform("plan", "--format", "json", "--detailed-exitcode")
    assert as_json.exit_code == 2
    change = next(c for c in json.loads(as_json.stdout)["changes"] if c["address"] == "policies/artifacts-read")
    assert {"category": "escalation", "message": expected} in change["risks"]
    saved = project.keyform("-v", "plan", "--out", str(project.workdir / "plan.json"))
    assert saved.exit_code == 0, saved.output

    applied(project)
    assert project.keyform("plan", "--detailed-exitcode").exit_code == 0
    project.assert_no_secret_leaked()


def test_a_declared_escalation_names_the_identity_and_the_statement(project):
    applied(project)
    project.edit(
        "Action: [ecs:UpdateService, ecs:DescribeServices]\n            Resource: arn",
        "Action: [iam:*]\n            Resource: arn",
    )
    result = project.keyform("plan", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert (
        "groups/deployers gains every IAM action (iam:*) on arn:aws:ecs:eu-central-1:123456789012:service/prod/* "
        "(inline policy update-services, statement 'Deploy')" in result.stdout
    )


def key_age(project: AwsProject, user: str) -> timedelta:
    newest = max(k["CreateDate"] for k in project.iam().list_access_keys(UserName=user)["AccessKeyMetadata"])
    return datetime.now(UTC) - newest


def wait_until_older(project: AwsProject, user: str, age: timedelta) -> None:
    """Let the newest key of `user` grow older than `age` (moto dates keys by its clock, which is ours)."""
    deadline = time.monotonic() + 60  # a bound against a hang
    while key_age(project, user) <= age and time.monotonic() < deadline:
        time.sleep(0.2)


def test_rotation_keeps_the_old_key_working_through_the_overlap_then_it_is_gone(project):
    """Time is driven by short durations: the engine has no clock hook the CLI reaches, and moto dates
    keys by the wall clock. rotate_after 2s makes the first key due; overlap 1h then holds the old key;
    overlap 1s lets it end."""
    project.edit("rotate_after: 90d\n      rotation_overlap: 24h", "rotate_after: 2s\n      rotation_overlap: 1s")
    applied(project)
    old = project.sink()["users/ci-deploy"]
    wait_until_older(project, "ci-deploy", timedelta(seconds=2))
    project.edit("rotate_after: 2s\n      rotation_overlap: 1s", "rotate_after: 2h\n      rotation_overlap: 1h")
    # rotate_after 2h: nothing due. Force it: the first rotation adds a key and keeps the old one
    rotate = project.keyform("rotate", "users/ci-deploy", "--auto-approve")
    assert rotate.exit_code == 0, rotate.output
    new = project.sink()["users/ci-deploy"]
    assert new["aws_access_key_id"] != old["aws_access_key_id"]
    assert new["retiring"]["aws_access_key_id"] == old["aws_access_key_id"]
    arn = "arn:aws:iam::123456789012:user/automation/ci-deploy"
    assert project.caller(old["aws_access_key_id"], old["aws_secret_access_key"]) == arn  # still works
    assert project.caller(new["aws_access_key_id"], new["aws_secret_access_key"]) == arn

    during = project.keyform("plan", "--detailed-exitcode")
    assert during.exit_code == 0, during.output  # within the overlap: nothing to do
    third = project.keyform("rotate", "users/ci-deploy", "--auto-approve")
    assert third.exit_code == 1
    assert (
        f"users/ci-deploy already has two access keys ({old['aws_access_key_id']}, {new['aws_access_key_id']}), "
        "the most AWS allows; keyform never attempts a third" in third.stderr
    )
    assert len(third.stderr.strip().splitlines()) == 1

    project.edit("rotation_overlap: 1h", "rotation_overlap: 1s")
    wait_until_older(project, "ci-deploy", timedelta(seconds=1))
    ending = project.keyform("plan", "--detailed-exitcode")
    assert ending.exit_code == 2
    assert f"access key {old['aws_access_key_id']} stops working now (rotation overlap over)" in ending.stdout
    applied(project)
    live = project.iam().list_access_keys(UserName="ci-deploy")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in live] == [new["aws_access_key_id"]]
    with pytest.raises(ClientError) as refused:
        project.caller(old["aws_access_key_id"], old["aws_secret_access_key"])
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
    verify = project.keyform("verify")
    assert verify.exit_code == 0, verify.output
    project.assert_no_secret_leaked()


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_a_wrong_endpoint_is_one_line(project, monkeypatch):
    project.edit("max_attempts: 10", "max_attempts: 1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    line = one_error_line(project.keyform("plan"))
    assert line == (
        "Error: reading IAM users, groups and policies: cannot reach http://127.0.0.1:9; "
        "check AWS_ENDPOINT_URL and the network"
    )


def test_a_wrong_secret_key_is_one_line_without_the_secret(project, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-of-this-key")
    line = one_error_line(project.keyform("plan"))
    assert line.startswith("Error: reading IAM users, groups and policies: AWS refused GetAccountAuthorizationDetails")
    assert "SignatureDoesNotMatch" in line
    assert "not-the-secret-of-this-key" not in line


def test_access_denied_on_a_write_is_one_line_and_exit_1(project, monkeypatch):
    iam = project.iam()
    iam.create_user(UserName="reader")
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "sts:*"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(read_only))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    result = project.keyform("apply", "--auto-approve")
    assert result.exit_code == 1
    assert re.search(
        r"failed: policies/artifacts-read: policies/artifacts-read: creating: AWS refused CreatePolicy "
        r"\(AccessDenied: [^\n]*\); grant keyform's identity this action, or run keyform with an identity that has it",
        result.output,
    ), result.output
    assert "Traceback" not in result.output
    assert key["SecretAccessKey"] not in result.output


def test_a_policy_document_that_is_not_valid_is_one_line(project):
    project.edit("Effect: Allow\n          Action: [s3:GetObject", "Effect: Permit\n          Action: [s3:GetObject")
    line = one_error_line(project.keyform("validate"))
    assert line.endswith(
        "keyform.yaml:30:19: policies.artifacts-read.document.Statement[0].Effect: must be Allow or Deny, not 'Permit'"
    )


def test_moved_renames_a_user_in_place_and_its_access_key_keeps_working(project):
    applied(project)
    iam = project.iam()
    before = iam.get_user(UserName="reporting-export")["User"]
    entry = project.sink()["users/reporting-export"]
    project.edit("  reporting-export:", "  bi-export:")
    text = project.config.read_text().rstrip("\n")
    project.config.write_text(text + "\n\nmoved:\n  - from: users/reporting-export\n    to: users/bi-export\n")
    planned = project.keyform("plan")
    assert planned.exit_code == 0, planned.output
    assert "  ~ users/bi-export  (update: renamed from users/reporting-export)" in planned.stdout
    assert "Plan: 0 to create, 1 to update, 0 to delete." in planned.stdout
    apply = project.keyform("apply", "--auto-approve")
    assert apply.exit_code == 0, apply.output
    after = iam.get_user(UserName="bi-export")["User"]
    assert after["UserId"] == before["UserId"]
    assert project.sink()["users/bi-export"] == entry and "users/reporting-export" not in project.sink()
    arn = project.caller(entry["aws_access_key_id"], entry["aws_secret_access_key"])
    assert arn.endswith(":user/automation/bi-export")
    again = project.keyform("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    project.assert_no_secret_leaked()
