"""read_all against the emulated account: canonical forms, ownership markers, the request floor."""

from __future__ import annotations

import json

from keyform.providers.aws_iam.client import IamClient, Settings

DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::artifacts/*"}],
}


def seed(iam) -> None:
    """Two policies (one keyform's), two groups (one keyform's), three users with keys."""
    own = iam.create_policy(
        PolicyName="artifacts-read",
        Path="/keyform/",
        PolicyDocument=json.dumps(DOC),
        Description="read build artifacts",
    )["Policy"]["Arn"]
    iam.create_policy(PolicyName="handmade", PolicyDocument=json.dumps(DOC))
    iam.create_group(GroupName="deployers", Path="/keyform/")
    iam.attach_group_policy(GroupName="deployers", PolicyArn=own)
    iam.put_group_policy(GroupName="deployers", PolicyName="pass", PolicyDocument=json.dumps(DOC))
    iam.create_group(GroupName="console-admins")
    iam.create_user(
        UserName="ci-bot",
        Path="/automation/",
        Tags=[{"Key": "managed-by", "Value": "keyform"}, {"Key": "team", "Value": "platform"}],
    )
    iam.add_user_to_group(UserName="ci-bot", GroupName="deployers")
    iam.attach_user_policy(UserName="ci-bot", PolicyArn=own)
    # a re-serialised document (single values, other key order) must read the same
    iam.put_user_policy(
        UserName="ci-bot",
        PolicyName="own",
        PolicyDocument=(
            json.dumps(
                {
                    "Statement": {
                        "Resource": "arn:aws:s3:::artifacts/*",
                        "Action": ["s3:GetObject"],
                        "Effect": "Allow",
                        "Sid": "Read",
                    },
                    "Version": "2012-10-17",
                }
            )
        ),
    )
    iam.create_access_key(UserName="ci-bot")
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    iam.create_access_key(UserName="alice")


def test_read_all_gives_canonical_entries_with_owners_and_key_facts(account):
    seed(account.boto())
    live = account.client().read_all()

    assert sorted(live) == [
        "groups/console-admins",
        "groups/deployers",
        "policies/artifacts-read",
        "policies/handmade",
        "users/alice",
        "users/ci-bot",
        "users/keyform-admin",
    ]
    bot = live["users/ci-bot"]
    assert bot["managed"] is True
    assert bot["attributes"] == {
        "path": "/automation/",
        "tags": {"team": "platform"},  # the marker is the ownership flag, not an attribute
        "permissions_boundary": None,  # moto leaves boundaries out of this read: see test_aws_shapes.py
        "groups": ["deployers"],
        "policies": ["artifacts-read"],  # the account's own policies go by name (AWS managed ones by ARN)
        "inline_policies": {
            "own": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": ["s3:GetObject"],
                        "Effect": "Allow",
                        "Resource": ["arn:aws:s3:::artifacts/*"],
                        "Sid": "Read",
                    }
                ],
            }
        },
        "access_key_enabled": True,
    }
    assert [status for _, _, status in bot["secrets"]] == ["Active"]
    assert bot["arn"] == "arn:aws:iam::123456789012:user/automation/ci-bot"
    assert live["users/alice"]["managed"] is False
    ids = [key_id for key_id, _, _ in live["users/alice"]["secrets"]]
    assert len(ids) == 2 and all(key_id.startswith("AKIA") for key_id in ids)
    assert live["groups/deployers"] == {
        **live["groups/deployers"],
        "managed": True,
        "attributes": {
            "policies": ["artifacts-read"],
            "inline_policies": {"pass": live["users/ci-bot"]["attributes"]["inline_policies"]["own"]},
        },
    }
    assert live["groups/console-admins"]["managed"] is False
    policy = live["policies/artifacts-read"]
    assert policy["managed"] is True
    assert policy["attributes"] == {
        "description": "read build artifacts",
        "document": bot["attributes"]["inline_policies"]["own"],
    }
    assert live["policies/handmade"]["managed"] is False


def test_reads_cost_one_request_per_page_plus_one_per_user(account):
    seed(account.boto())
    client = account.client()
    client.read_all()
    # moto answers GetAccountAuthorizationDetails in one page (it ignores MaxItems): 1 page + 3 users
    assert dict(client.requests.by_operation) == {"GetAccountAuthorizationDetails": 1, "ListAccessKeys": 3}
    assert client.requests.total == 4


def test_credentials_come_from_the_standard_chain(account):
    """AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY alone are enough (fixture sets them)."""
    live = IamClient(Settings()).read_all()
    assert "users/keyform-admin" in live
