"""keyform's own logic where moto differs from AWS, checked with botocore's Stubber answering in the
response shapes AWS documents (each test cites its page of the IAM or STS API reference).

Moto 5 answers GetAccountAuthorizationDetails in one page whatever MaxItems says, leaves users'
permissions boundaries out of it, accepts Inactive keys, ignores UpdateGroup's NewPath without a
rename, and does not implement SimulatePrincipalPolicy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from botocore.stub import Stubber

from keyform.errors import ProviderError
from keyform.providers.aws_iam import keys, writes
from keyform.providers.aws_iam.client import READ_FILTER, IamClient, Settings

ACCOUNT = "123456789012"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
NEW, OLD = "AKIANEW0000000000001", "AKIAOLD0000000000001"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/keyform/boundary-ci"


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = Settings(
        endpoint_url="http://127.0.0.1:9",
        access_key_id="AKIASTUBBED000000000",
        secret_access_key="stubbed-secret",
        workers=1,
    )
    return IamClient(settings)


def test_authorization_details_follow_marker_across_pages_and_read_boundaries(client):
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html"""
    policy = {
        "PolicyName": "boundary-ci",
        "PolicyId": "ANPAEXAMPLE000000001",
        "Arn": POLICY_ARN,
        "Path": "/keyform/",
        "DefaultVersionId": "v2",
        "Description": "",
        "PolicyVersionList": [
            {"Document": quote(json.dumps(DOC)), "VersionId": "v2", "IsDefaultVersion": True},
            {"Document": quote(json.dumps({**DOC, "Statement": []})), "VersionId": "v1", "IsDefaultVersion": False},
        ],
    }
    user = {
        "UserName": "ci-bot",
        "UserId": "AIDAEXAMPLE000000001",
        "Path": "/",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci-bot",
        "CreateDate": CREATED,
        "GroupList": [],
        "UserPolicyList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
        ],
        "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": POLICY_ARN},
        "Tags": [{"Key": "managed-by", "Value": "keyform"}],
    }
    with Stubber(client.iam) as stub:
        stub.add_response(
            "get_account_authorization_details",
            {"UserDetailList": [], "Policies": [policy], "IsTruncated": True, "Marker": "page-2"},
            {"Filter": READ_FILTER, "MaxItems": 1000},
        )
        stub.add_response(
            "get_account_authorization_details",
            {"UserDetailList": [user], "IsTruncated": False},
            {"Filter": READ_FILTER, "MaxItems": 1000, "Marker": "page-2"},
        )
        stub.add_response(
            "list_access_keys",
            {
                "AccessKeyMetadata": [
                    {"UserName": "ci-bot", "AccessKeyId": NEW, "Status": "Active", "CreateDate": CREATED},
                    {
                        "UserName": "ci-bot",
                        "AccessKeyId": OLD,
                        "Status": "Inactive",
                        "CreateDate": CREATED.replace(year=2025),
                    },
                ],
                "IsTruncated": False,
            },
            {"UserName": "ci-bot"},
        )
        live = client.read_all()
        stub.assert_no_pending_responses()  # two pages + one ListAccessKeys: nothing more
    attributes = live["users/ci-bot"]["attributes"]
    assert attributes["permissions_boundary"] == "boundary-ci"
    assert attributes["policies"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert attributes["access_key_enabled"] is True  # the newest key is the current one
    assert [k for k, _, _ in live["users/ci-bot"]["secrets"]] == [OLD, NEW]  # oldest first
    assert live["policies/boundary-ci"]["attributes"]["document"]["Statement"] == [
        {"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["*"]}
    ]


def test_adopting_a_group_moves_it_to_keyforms_path(client):
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateGroup.html"""
    with Stubber(client.iam) as stub:
        stub.add_response("update_group", {}, {"GroupName": "legacy", "NewPath": "/keyform/"})
        writes.adopt_group(client, "legacy", {}, {})
        stub.assert_no_pending_responses()


def test_aws_refuses_an_inactive_key_and_verify_says_so(client, monkeypatch):
    """https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html (InvalidClientTokenId, 403)"""
    made = []
    real_client = IamClient.client

    def stubbed(self, service, **credentials):
        sts = real_client(self, service, **credentials)
        stub = Stubber(sts)
        stub.add_client_error(
            "get_caller_identity", "InvalidClientTokenId", "The security token included in the request is invalid.", 403
        )
        stub.activate()
        made.append(stub)
        return sts

    monkeypatch.setattr(IamClient, "client", stubbed)
    with pytest.raises(ProviderError) as caught:
        keys.verify_access_key(client, "ci-bot", "AKIAINACTIVE", "inactive-secret-value")
    assert str(caught.value) == (
        "users/ci-bot: access key AKIAINACTIVE does not authenticate: AWS refused GetCallerIdentity "
        "(InvalidClientTokenId: The security token included in the request is invalid); AWS no longer accepts "
        "it (inactive or deleted); rotate the user's key"
    )
    assert len(made) == 1


def test_simulate_principal_policy_gives_each_decision_across_pages(client):
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html"""
    arn = f"arn:aws:iam::{ACCOUNT}:user/ci-bot"
    params = {"PolicySourceArn": arn, "ActionNames": ["s3:GetObject", "iam:PassRole"], "ResourceArns": ["*"]}
    with Stubber(client.iam) as stub:
        stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": "s3:GetObject", "EvalResourceName": "*", "EvalDecision": "allowed"}
                ],
                "IsTruncated": True,
                "Marker": "m",
            },
            params,
        )
        stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": "iam:PassRole", "EvalResourceName": "*", "EvalDecision": "implicitDeny"}
                ],
                "IsTruncated": False,
            },
            {**params, "Marker": "m"},
        )
        decisions = keys.simulate(client, arn, ["s3:GetObject", "iam:PassRole"])
    assert decisions == {"s3:GetObject": "allowed", "iam:PassRole": "implicitDeny"}


def test_throttling_after_every_retry_is_one_line(client):
    """https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html (Throttling, 400)"""
    with Stubber(client.iam) as stub:
        stub.add_client_error("list_access_keys", "Throttling", "Rate exceeded", 400)
        with pytest.raises(ProviderError) as caught:
            client.access_keys("ci-bot")
    assert str(caught.value) == (
        "users/ci-bot: listing access keys: AWS refused ListAccessKeys (Throttling: Rate exceeded); "
        "AWS kept throttling after every retry; try again later"
    )
