"""A keystone.conf list_limit truncates the unpaginated listings: keyform stops instead of reading part."""

from __future__ import annotations

import pytest

from keyform.errors import ProviderError
from keyform.providers.keystone.client import KeystoneClient
from keyform.providers.keystone.cloud import KeystoneCloud


@pytest.fixture
def limited(keystone):
    keystone.restart({"role": {"list_limit": 2}})
    try:
        yield keystone
    finally:
        keystone.restart({})


def test_a_truncated_role_listing_is_an_error_naming_the_setting(limited):
    cloud = KeystoneCloud(KeystoneClient(limited.admin_options()))

    with pytest.raises(ProviderError) as raised:
        cloud.read_all()

    assert str(raised.value) == (
        "roles: Keystone truncated the roles listing (a list_limit in keystone.conf): "
        "unset list_limit for roles or raise it above the number of roles"
    )
