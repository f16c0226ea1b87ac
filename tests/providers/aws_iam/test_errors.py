"""Every AWS failure is one line naming the resource and the fix, and never shows a secret key."""

from __future__ import annotations

import json
import socket

import pytest

from keyform.errors import ProviderError
from keyform.providers.aws_iam import keys, writes
from keyform.providers.aws_iam.client import IamClient, Settings

WRONG_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY00"


def failure(call) -> str:
    with pytest.raises(ProviderError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_no_credentials_anywhere(account, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert failure(lambda: IamClient(Settings()).read_all()) == (
        "reading IAM users, groups and policies: no AWS credentials found; "
        "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


def test_a_profile_that_does_not_exist(account):  # the fixture points AWS_CONFIG_FILE at nothing
    assert failure(lambda: IamClient(Settings(profile="prod-admin"))) == (
        "AWS credentials: AWS profile 'prod-admin' not found in ~/.aws/config; fix AWS_PROFILE"
    )


def test_an_unknown_access_key_is_refused(account):
    settings = Settings(endpoint_url=account.url, access_key_id="AKIAUNKNOWN000000000", secret_access_key=WRONG_SECRET)
    message = failure(lambda: IamClient(settings).read_all())
    assert message.startswith(
        "reading IAM users, groups and policies: AWS refused GetAccountAuthorizationDetails (InvalidClientTokenId"
    )
    assert message.endswith(
        "(inactive, deleted, or of another account); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    assert WRONG_SECRET not in message


def test_a_wrong_secret_for_a_real_key_is_refused_without_echoing_it(account):
    settings = Settings(endpoint_url=account.url, access_key_id=account.admin_key_id, secret_access_key=WRONG_SECRET)
    message = failure(lambda: IamClient(settings).read_all())
    assert "(SignatureDoesNotMatch" in message
    assert message.endswith("; the secret access key does not belong to the access key id; check AWS_SECRET_ACCESS_KEY")
    assert WRONG_SECRET not in message and account.admin_secret not in message


def test_access_denied_names_the_action(account):
    iam = account.boto()
    iam.create_user(UserName="auditor")
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="keys",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:ListAccessKeys", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    settings = Settings(
        endpoint_url=account.url, access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
    )
    message = failure(lambda: IamClient(settings).read_all())
    assert message.startswith(
        "reading IAM users, groups and policies: AWS refused GetAccountAuthorizationDetails "
        "(AccessDenied: User: arn:aws:iam::123456789012:user/auditor is not authorized to "
        "perform: iam:GetAccountAuthorizationDetails"
    )
    assert message.endswith("; grant keyform's identity this action, or run keyform with an identity that has it")
    assert key["SecretAccessKey"] not in message


def test_a_resource_gone_outside_keyform(account):
    assert failure(lambda: writes.delete_user(account.client(), "ghost")) == (
        "users/ghost: listing access keys: AWS refused ListAccessKeys (NoSuchEntity: The user with name ghost "
        "cannot be found); it is gone (changed outside keyform?); run `keyform plan` again"
    )


def test_aws_limits_name_the_limit(account):
    client = account.client()
    writes.create_user(client, "ci-bot", {})
    for _ in range(2):
        keys.create_access_key(client, "ci-bot", [])
    message = failure(
        lambda: client.call("users/ci-bot: creating an access key", "create_access_key", UserName="ci-bot")
    )
    assert message == (
        "users/ci-bot: creating an access key: AWS refused CreateAccessKey (LimitExceeded: Cannot exceed quota for "
        "AccessKeysPerUser: 2); AWS allows at most two access keys per user and five versions per policy; "
        "remove one first"
    )


def test_a_malformed_policy_document(account):
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}
    message = failure(lambda: writes.create_policy(account.client(), "broken", {"document": bad}))
    assert message.startswith("policies/broken: creating: AWS refused CreatePolicy (MalformedPolicyDocument")
    assert message.endswith("; fix the policy document")


def test_an_invalid_name_is_refused_before_sending(account):
    assert failure(lambda: writes.create_user(account.client(), "", {})) == (
        "users/: creating: invalid request (Invalid length for parameter UserName, value: 0, valid min length: 1); "
        "fix the value in the desired state"
    )


def test_an_unreachable_endpoint(account):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = Settings(
        endpoint_url=url, access_key_id=account.admin_key_id, secret_access_key=account.admin_secret, max_attempts=1
    )
    assert failure(lambda: IamClient(settings).read_all()) == (
        f"reading IAM users, groups and policies: cannot reach {url}; check AWS_ENDPOINT_URL and the network"
    )
