"""Access keys against the emulated account: a created key authenticates as its user, rotation goes
through the two-key overlap and never asks for a third key, retired keys are refused."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from keyform.errors import ProviderError
from keyform.providers.aws_iam import keys, writes

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def client(account):
    client = account.client()
    writes.create_user(client, "ci-bot", {"path": "/automation/", "tags": {}})
    return client


def live_keys(client, user="ci-bot"):
    return client.read_all()[f"users/{user}"]["secrets"]


def test_a_created_key_signs_as_its_user_and_its_secret_is_never_shown(client):
    key = keys.create_access_key(client, "ci-bot", [])
    assert key.fields() == {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret_access_key}
    assert key.secret_access_key not in repr(key)
    arn = keys.verify_access_key(client, "ci-bot", key.access_key_id, key.secret_access_key, path="/automation/")
    assert arn == "arn:aws:iam::123456789012:user/automation/ci-bot"
    assert [(key_id, status) for key_id, _, status in live_keys(client)] == [(key.access_key_id, "Active")]


def test_a_key_of_another_user_fails_verification(client):
    writes.create_user(client, "other", {})
    key = keys.create_access_key(client, "other", [])
    with pytest.raises(ProviderError) as caught:
        keys.verify_access_key(client, "ci-bot", key.access_key_id, key.secret_access_key, path="/automation/")
    assert str(caught.value) == (
        f"users/ci-bot: access key {key.access_key_id} signs as arn:aws:iam::123456789012:user/other, "
        "not arn:aws:iam::123456789012:user/automation/ci-bot; the sink holds another identity's key"
    )


def test_a_third_key_is_refused_with_the_reason_before_any_request(client):
    first = keys.create_access_key(client, "ci-bot", [])
    second = keys.create_access_key(client, "ci-bot", live_keys(client))
    sent = client.requests.by_operation["CreateAccessKey"]
    with pytest.raises(ProviderError) as caught:
        keys.create_access_key(client, "ci-bot", live_keys(client))
    assert str(caught.value) == (
        f"users/ci-bot already has two access keys ({first.access_key_id}, {second.access_key_id}), the most AWS "
        "allows; keyform never attempts a third: wait for the rotation in progress to finish, or delete one of them"
    )
    assert client.requests.by_operation["CreateAccessKey"] == sent


def test_rotation_keeps_the_old_key_working_through_the_overlap_then_it_is_gone(client):
    old = keys.create_access_key(client, "ci-bot", [])
    rotate, overlap = 90 * DAY, DAY
    created = live_keys(client)[0][1]
    assert (
        keys.rotation_step("ci-bot", live_keys(client), now=created + DAY, rotate_after=rotate, overlap=overlap).action
        == "none"
    )
    assert (
        keys.rotation_step(
            "ci-bot", live_keys(client), now=created + rotate, rotate_after=rotate, overlap=overlap
        ).action
        == "create"
    )
    new = keys.create_access_key(client, "ci-bot", live_keys(client))
    two = live_keys(client)
    assert [key_id for key_id, _, _ in two] == [old.access_key_id, new.access_key_id]
    step = keys.rotation_step("ci-bot", two, now=two[1][1] + overlap / 2, rotate_after=rotate, overlap=overlap)
    assert step.action == "wait"
    for key in (old, new):  # both work during the overlap
        keys.verify_access_key(client, "ci-bot", key.access_key_id, key.secret_access_key, path="/automation/")
    step = keys.rotation_step("ci-bot", two, now=two[1][1] + overlap, rotate_after=rotate, overlap=overlap)
    assert (step.action, step.access_key_id) == ("retire", old.access_key_id)
    keys.retire_access_key(client, "ci-bot", old.access_key_id)
    assert [key_id for key_id, _, _ in live_keys(client)] == [new.access_key_id]
    with pytest.raises(ProviderError) as caught:
        keys.verify_access_key(client, "ci-bot", old.access_key_id, old.secret_access_key, path="/automation/")
    message = str(caught.value)
    assert message.startswith(
        f"users/ci-bot: access key {old.access_key_id} does not authenticate: AWS refused "
        "GetCallerIdentity (InvalidClientTokenId"
    )
    assert message.endswith("; AWS no longer accepts it (inactive or deleted); rotate the user's key")
    assert "\n" not in message and old.secret_access_key not in message
    keys.verify_access_key(client, "ci-bot", new.access_key_id, new.secret_access_key, path="/automation/")


def test_a_deactivated_key_fails_verification(client):
    """AWS refuses an Inactive key; moto 5 still accepts it, so keyform checks the status it read."""
    key = keys.create_access_key(client, "ci-bot", [])
    keys.set_access_key_status(client, "ci-bot", key.access_key_id, active=False)
    read = client.read_all()["users/ci-bot"]
    assert read["attributes"]["access_key_enabled"] is False
    with pytest.raises(ProviderError) as caught:
        keys.verify_access_key(client, "ci-bot", key.access_key_id, key.secret_access_key, keys=read["secrets"])
    assert str(caught.value) == (
        f"users/ci-bot: access key {key.access_key_id} is Inactive; set access_key.enabled: true or deliver the "
        "current key"
    )
    keys.set_access_key_status(client, "ci-bot", key.access_key_id, active=True)
    assert client.read_all()["users/ci-bot"]["attributes"]["access_key_enabled"] is True


@pytest.mark.parametrize(
    ("ages", "now", "expected"),
    [
        ([], T0, "none"),  # no key: creating the first one is the plan's create, not a rotation
        ([T0], T0 + 89 * DAY, "none"),
        ([T0], T0 + 90 * DAY, "create"),
        ([T0, T0 + 90 * DAY], T0 + 90 * DAY + timedelta(hours=23), "wait"),
        ([T0, T0 + 90 * DAY], T0 + 91 * DAY, "retire"),
    ],
)
def test_rotation_step(ages, now, expected):
    facts = [(f"AKIA{i}", created, "Active") for i, created in enumerate(ages)]
    step = keys.rotation_step("u", facts, now=now, rotate_after=90 * DAY, overlap=DAY)
    assert step.action == expected
    assert step.access_key_id == ("AKIA0" if expected == "retire" else None)


def test_no_secret_reaches_logs_or_reprs(client, account, caplog):
    caplog.set_level(logging.INFO)  # what an application embedding keyform typically logs
    key = keys.create_access_key(client, "ci-bot", [])
    keys.verify_access_key(client, "ci-bot", key.access_key_id, key.secret_access_key, path="/automation/")
    client.read_all()
    shown = [caplog.text, repr(key), repr(client.settings), repr(account.settings())]
    for secret in (key.secret_access_key, account.admin_secret):
        assert not any(secret in text for text in shown)
