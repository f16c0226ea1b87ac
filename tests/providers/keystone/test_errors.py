"""Bad input against a real Keystone: one line naming the resource and the fix, never a secret."""

from __future__ import annotations

import pytest

from keyform.errors import ProviderError
from keyform.providers.keystone.client import KeystoneClient
from keyform.providers.keystone.cloud import KeystoneCloud
from tests.keystone_server import free_port


def refusal(action) -> str:
    with pytest.raises(ProviderError) as raised:
        action()
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def cloud(keystone):
    cloud = KeystoneCloud(KeystoneClient(keystone.admin_options()))
    cloud.read_all()
    cloud.create_project("payments", {})
    cloud.create_user("svc-ci", {"projects": {"payments": ["reader"]}})
    cloud.read_all()
    return cloud


def held(cloud) -> dict:
    return cloud.read_all()["users/svc-ci"].attributes["projects"]


def test_a_wrong_auth_url_names_the_setting(keystone):
    options = {**keystone.admin_options(), "auth_url": f"http://127.0.0.1:{free_port()}"}

    message = refusal(KeystoneClient(options).authenticate)

    assert message.startswith(
        f"authentication: cannot reach Keystone at http://127.0.0.1:{options['auth_url'][17:]}/v3"
    )
    assert message.endswith("check provider.auth_url (OS_AUTH_URL)")


def test_a_wrong_password_names_the_user_and_never_the_password(keystone):
    options = {**keystone.admin_options(), "password": "not-the-password-42"}

    message = refusal(KeystoneClient(options).authenticate)

    assert message == (
        f"Keystone at {keystone.url} refused user 'admin' (domain 'Default') on project 'admin': "
        "check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the domain names"
    )
    assert keystone.admin_password not in message


def test_an_expired_token_says_to_issue_a_new_one(keystone):
    admin = KeystoneClient(keystone.admin_options())
    token = admin.session.get_token()
    admin.request("DELETE", "/auth/tokens", "token", headers={"X-Subject-Token": token})

    message = refusal(KeystoneClient({"auth_url": keystone.url, "token": token, "project_name": "admin"}).authenticate)

    assert message == (
        f"Keystone at {keystone.url} refused the token: it is expired or revoked; "
        "issue a new one (openstack token issue) and set OS_TOKEN"
    )
    assert token not in message


def test_a_role_the_owner_does_not_hold_stops_before_anything_changes(cloud):
    attributes = {"owner": "svc-ci", "project": "payments", "roles": ["member", "reader"]}

    message = refusal(lambda: cloud.create_application_credential("ci", attributes, held=held(cloud), services=set()))

    assert message == (
        "application_credentials/ci: owner users/svc-ci doesn't hold member on project payments: "
        "grant it in users.svc-ci.projects.payments or drop it from roles"
    )


def test_a_project_that_does_not_exist_is_named(cloud):
    attributes = {"owner": "svc-ci", "project": "paymnets", "roles": ["reader"]}

    message = refusal(lambda: cloud.create_application_credential("ci", attributes, held=held(cloud), services=set()))

    assert message == (
        "application_credentials/ci: project 'paymnets' doesn't exist in Keystone (known: admin, payments): declare it"
    )


def test_an_access_rule_for_an_unknown_service_is_named(cloud):
    rule = {"service": "compte", "method": "GET", "path": "/v2.1/servers"}
    attributes = {"owner": "svc-ci", "project": "payments", "roles": ["reader"], "access_rules": [rule]}

    message = refusal(
        lambda: cloud.create_application_credential("ci", attributes, held=held(cloud), services=cloud.services())
    )

    assert message == (
        "application_credentials/ci: access rule for service 'compte', which this cloud's catalog "
        "doesn't have (known: identity): fix the service type"
    )
    assert "application_credentials/ci" not in cloud.read_all()


def test_a_keystone_refusal_is_one_line_without_the_secret_sent(cloud):
    client = cloud.client
    password = client.hide("a-password-keystone-must-not-echo")

    message = refusal(lambda: client.create("users", "user", {"name": "", "password": password}, "u"))

    assert password not in message
