"""Every write against the emulated account, each checked by a second read."""

from __future__ import annotations

import pytest

from keyform.providers.aws_iam import writes

READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]}
WRITE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["*"]}]}


def user(**overrides):
    return {
        "path": "/automation/",
        "tags": {"team": "platform"},
        "permissions_boundary": None,
        "groups": ["deployers"],
        "policies": ["artifacts"],
        "inline_policies": {"read": READ},
        **overrides,
    }


@pytest.fixture
def client(account):
    client = account.client()
    writes.create_policy(client, "artifacts", {"description": "build artifacts", "document": READ})
    writes.create_group(client, "deployers", {"policies": ["artifacts"], "inline_policies": {"write": WRITE}})
    return client


def attributes(client, address):
    return {k: v for k, v in client.read_all()[address]["attributes"].items() if k != "access_key_enabled"}


def test_created_policy_group_and_user_read_back_as_declared_and_as_keyform_s(client):
    writes.create_user(client, "ci-bot", user())
    live = client.read_all()
    assert {a: live[a]["managed"] for a in ("users/ci-bot", "groups/deployers", "policies/artifacts")} == {
        "users/ci-bot": True,
        "groups/deployers": True,
        "policies/artifacts": True,
    }
    assert attributes(client, "users/ci-bot") == user()
    assert live["groups/deployers"]["attributes"] == {"policies": ["artifacts"], "inline_policies": {"write": WRITE}}
    assert live["policies/artifacts"]["attributes"] == {"description": "build artifacts", "document": READ}


def test_update_user_changes_only_what_differs(client, account):
    writes.create_user(client, "ci-bot", user())
    writes.create_group(client, "auditors", {"policies": [], "inline_policies": {}})
    before = attributes(client, "users/ci-bot")
    after = user(
        path="/bots/",
        tags={"team": "data", "cost": "42"},
        groups=["auditors"],
        policies=[],
        inline_policies={"write": WRITE},
    )
    client.requests.by_operation.clear()
    writes.update_user(client, "ci-bot", before, after)
    assert attributes(client, "users/ci-bot") == after
    tags = {t["Key"]: t["Value"] for t in account.boto().list_user_tags(UserName="ci-bot")["Tags"]}
    assert tags == {"managed-by": "keyform", "team": "data", "cost": "42"}  # the marker survives tag updates


def test_adopting_a_user_marks_it_and_keeps_what_is_declared(client, account):
    account.boto().create_user(UserName="legacy")
    live = client.read_all()["users/legacy"]
    assert live["managed"] is False
    writes.adopt_user(client, "legacy", live["attributes"], {"tags": {"owner": "ops"}})
    live = client.read_all()["users/legacy"]
    assert live["managed"] is True and live["attributes"]["tags"] == {"owner": "ops"}


def test_adopting_a_group_attaches_what_is_declared(client, account):
    account.boto().create_group(GroupName="legacy-group")
    assert client.read_all()["groups/legacy-group"]["managed"] is False
    writes.adopt_group(client, "legacy-group", {}, {"policies": ["artifacts"]})
    assert client.read_all()["groups/legacy-group"]["attributes"]["policies"] == ["artifacts"]
    # the move under /keyform/ (the group's marker) is checked in test_aws_shapes.py: moto 5 ignores
    # UpdateGroup's NewPath unless the group is renamed too


def test_update_group_syncs_attached_and_inline_policies(client):
    writes.update_group(
        client, "deployers", attributes(client, "groups/deployers"), {"policies": [], "inline_policies": {"read": READ}}
    )
    assert attributes(client, "groups/deployers") == {"policies": [], "inline_policies": {"read": READ}}


def test_policy_update_makes_a_new_default_and_prunes_the_oldest_at_five_versions(client, account):
    arn = client.policy_arn("artifacts")
    documents = [
        {**READ, "Statement": [{**READ["Statement"][0], "Resource": [f"arn:aws:s3:::b{i}/*"]}]} for i in range(6)
    ]
    for document in documents:
        writes.update_policy(client, "artifacts", {"document": document})
    versions = account.boto().list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 5  # AWS's limit: v1 and v2 were pruned, oldest first
    assert sorted(v["VersionId"] for v in versions) == ["v3", "v4", "v5", "v6", "v7"]
    assert client.read_all()["policies/artifacts"]["attributes"]["document"] == documents[-1]


def test_deleting_a_user_removes_what_aws_requires_first(client, account):
    writes.create_user(client, "ci-bot", user())
    iam = account.boto()
    iam.create_access_key(UserName="ci-bot")
    iam.create_login_profile(UserName="ci-bot", Password="Correct-Horse-9")
    writes.delete_user(client, "ci-bot")
    assert "users/ci-bot" not in client.read_all()


def test_deleting_a_group_and_a_policy_detaches_them_first(client):
    writes.create_user(client, "ci-bot", user())
    writes.delete_group(client, "deployers")
    writes.delete_policy(client, "artifacts")
    live = client.read_all()
    assert "groups/deployers" not in live and "policies/artifacts" not in live
    assert live["users/ci-bot"]["attributes"]["groups"] == []
    assert live["users/ci-bot"]["attributes"]["policies"] == []
