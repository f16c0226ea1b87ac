"""The Keystone client layer against a real Keystone: canonical reads, request counts, writes, secrets."""

from __future__ import annotations

import pytest
import requests

from keyform.errors import ProviderError
from keyform.providers.keystone.client import KeystoneClient
from keyform.providers.keystone.cloud import KeystoneCloud

BOOTSTRAP_ROLES = ["admin", "manager", "member", "reader", "service"]
RULE = {"service": "identity", "method": "GET", "path": "/v3/projects"}


class CountingHttp(requests.Session):
    """A requests session that counts the GETs keystoneauth1 sends through it."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.gets += response.request.method == "GET"


def cloud_for(keystone, http: requests.Session | None = None, **options: object) -> KeystoneCloud:
    return KeystoneCloud(KeystoneClient({**keystone.admin_options(), **options}, http=http))


@pytest.fixture(scope="module")
def seeded(keystone):
    """A small cloud: a tagged project, a role implying member, a service user with a credential."""
    cloud = cloud_for(keystone)
    cloud.read_all()
    cloud.create_project("payments", {"description": "Payments team", "tags": ["prod"]})
    cloud.create_role("deployer", {"description": "Deploys", "implies": ["member"]})
    cloud.create_user(
        "svc-ci",
        {
            "description": "CI",
            "email": "ci@example.org",
            "default_project": "payments",
            "projects": {"payments": ["deployer", "reader"]},
        },
    )
    live = cloud.read_all()
    attributes = {
        "owner": "svc-ci",
        "project": "payments",
        "roles": ["deployer"],
        "description": "deploys from CI",
        "expires_at": "2030-01-01T00:00:00Z",
        "unrestricted": False,
        "access_rules": [RULE],
    }
    held = live["users/svc-ci"].attributes["projects"]
    new, created_at = cloud.create_application_credential("ci-deploy", attributes, held=held, services=cloud.services())
    return cloud, new, created_at, attributes


def test_a_clean_keystone_holds_only_what_bootstrap_made(keystone):
    live = cloud_for(keystone).read_all()

    assert sorted(live) == ["projects/admin", "users/admin"]  # bootstrap's roles are immutable: never managed
    assert not any(resource.managed for resource in live.values())
    assert live["users/admin"].attributes["projects"] == {"admin": ["admin"]}


def test_keystones_immutable_roles_are_named_but_never_managed(keystone):
    cloud = cloud_for(keystone)
    cloud.read_all()

    assert sorted(cloud.index.builtin) == BOOTSTRAP_ROLES
    assert cloud.index.implies["member"] == {"reader"}
    with pytest.raises(ProviderError) as refused:
        cloud.create_role("member", {})
    assert str(refused.value) == (
        "roles/member: one of Keystone's immutable roles, which keyform can't manage: remove it from roles: "
        "(users and application credentials may name it without declaring it)"
    )


def test_read_all_returns_each_kind_in_canonical_form(seeded):
    cloud, new, created_at, attributes = seeded
    live = cloud.read_all()

    assert live["projects/payments"].attributes == {
        "domain": "Default",
        "description": "Payments team",
        "enabled": True,
        "tags": ["prod"],
    }
    assert live["roles/deployer"].attributes == {"description": "Deploys", "implies": ["member"]}
    assert live["users/svc-ci"].attributes == {
        "domain": "Default",
        "description": "CI",
        "email": "ci@example.org",
        "enabled": True,
        "default_project": "payments",
        "projects": {"payments": ["deployer", "reader"]},
    }
    credential = live["application_credentials/ci-deploy"]
    assert credential.attributes == attributes  # Keystone's implied member/reader fold back into deployer
    assert credential.secrets == ((new.id, created_at),)
    assert all(live[a].managed for a in ("projects/payments", "roles/deployer", "users/svc-ci"))
    assert credential.managed
    assert cloud.managed_projects() == ["payments"]


def test_an_application_credential_secret_authenticates_with_its_roles_and_project(keystone, seeded):
    cloud, new, _, _ = seeded

    facts = cloud.client.authenticate_application_credential(new.id, new.secret)

    assert facts.project_name == "payments"
    assert facts.roles == ("deployer", "member", "reader")
    assert new.secret not in repr(new)


def test_requests_equal_pages_and_do_not_grow_with_users(keystone, seeded):
    cloud = seeded[0]
    counts = []
    for total in (3, 30):
        existing = sum(1 for address in cloud.read_all() if address.startswith("users/"))
        for number in range(existing, total):
            cloud.client.create("users", "user", {"name": f"person-{number}", "domain_id": "default"}, "seed")
        http = CountingHttp()
        live = cloud_for(keystone, http).read_all()
        assert sum(1 for address in live if address.startswith("users/")) == total
        counts.append(http.gets)

    # domains, projects, users, roles, role_inferences, role_assignments, credentials of svc-ci
    assert counts == [7, 7]
    http = CountingHttp()
    cloud_for(keystone, http, page_size=10).read_all()
    assert http.gets == 7 - 1 + 3  # 30 users in pages of 10 (Keystone links a next page only from a full one)


def test_each_write_shows_in_the_next_read(keystone, seeded):
    cloud = seeded[0]
    cloud.create_project("billing", {"description": "old", "tags": ["a"]})
    cloud.create_role("auditor", {"description": "Audits"})
    cloud.create_user("svc-audit", {"projects": {"billing": ["reader"]}})
    cloud.read_all()

    cloud.update_project("billing", {"description": "Billing", "enabled": False, "tags": ["b", "c"]})
    cloud.update_role(
        "auditor", {"description": "Audits", "implies": []}, {"description": "Reads", "implies": ["reader"]}
    )
    cloud.update_user(
        "svc-audit",
        {"email": "", "projects": {"billing": ["reader"]}},
        {"email": "audit@example.org", "projects": {"billing": ["auditor"], "payments": ["reader"]}},
    )
    live = cloud.read_all()

    assert live["projects/billing"].attributes == {
        "domain": "Default",
        "description": "Billing",
        "enabled": False,
        "tags": ["b", "c"],
    }
    assert live["roles/auditor"].attributes == {"description": "Reads", "implies": ["reader"]}
    assert live["users/svc-audit"].attributes["email"] == "audit@example.org"
    assert live["users/svc-audit"].attributes["projects"] == {"billing": ["auditor"], "payments": ["reader"]}

    cloud.delete_user("svc-audit")
    cloud.delete_role("auditor")
    cloud.delete_project("billing")
    live = cloud.read_all()
    assert not {"users/svc-audit", "roles/auditor", "projects/billing"} & set(live)


def test_a_deleted_application_credential_stops_authenticating(keystone, seeded):
    cloud = seeded[0]
    live = cloud.read_all()
    held = live["users/svc-ci"].attributes["projects"]
    attributes = {"owner": "svc-ci", "project": "payments", "roles": ["reader"]}
    new, _ = cloud.create_application_credential("short-lived", attributes, held=held, services=set())
    assert cloud.client.authenticate_application_credential(new.id, new.secret).roles == ("reader",)
    cloud.read_all()

    cloud.delete_application_credential("short-lived", new.id)

    with pytest.raises(ProviderError) as refused:
        cloud.client.authenticate_application_credential(new.id, new.secret)
    assert str(refused.value) == (
        f"application credential {new.id} does not authenticate: it is wrong, expired or deleted; "
        "run keyform apply to issue a new one"
    )
    assert "application_credentials/short-lived" not in cloud.read_all()
