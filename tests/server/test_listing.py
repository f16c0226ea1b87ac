"""List pages are rendered by the database: each listed item is exactly what a GET of it returns."""

from __future__ import annotations

import json

import pytest

from keyform.server.runner import init_organization, running_server
from keyform.server.storage import open_storage, postgresql
from tests.pg import Cluster

from .conftest import Api


def test_a_listed_user_or_credential_equals_its_own_get(api: Api) -> None:
    role, other = api.role(), api.role()
    with_key, _ = api.user(roles=[role["name"], other["name"]], cognitive_access=False, job_title="Ops é ✓")
    without_key, _ = api.user(key=False, role="account_admin")
    disabled, _ = api.user()
    api.owner.patch(f"/v1/users/{disabled['id']}/api-key", json={"enabled": False})
    scopes = {"permissions": {"employees": ["read"]}, "attributes": ["salary"]}
    rich = api.credential(roles=[other["name"], role["name"]], **scopes)
    api.owner.post(f"/v1/credentials/{rich['id']}/secrets")
    plain = api.credential(enabled=False, managed_by="keyform")
    for kind, ids in (
        ("users", [with_key["id"], without_key["id"], disabled["id"]]),
        ("credentials", [rich["id"], plain["id"]]),
    ):
        listed = {item["id"]: item for item in api.owner.get(f"/v1/{kind}", params={"limit": 1000}).json()["items"]}
        for resource_id in ids:
            assert listed[resource_id] == api.owner.get(f"/v1/{kind}/{resource_id}").json()
    by_email = api.owner.get("/v1/users", params={"email": with_key["email"].upper()}).json()
    assert [item["id"] for item in by_email["items"]] == [with_key["id"]] and by_email["next_cursor"] is None
    by_name = api.owner.get("/v1/credentials", params={"name": plain["name"]}).json()
    assert [item["id"] for item in by_name["items"]] == [plain["id"]]


def test_a_list_page_is_compact_utf8_json_the_same_bytes_on_every_backend(api: Api) -> None:
    role = api.role()
    api.user(roles=[role["name"]], job_title='Ops é ✓ "quoted" \\ back\tslash')
    api.user(key=False, first_name="Zoë")
    scopes = {"permissions": {"employees": ["read"], "absences": ["read", "write"]}, "attributes": ["salary", "iban"]}
    credential = api.credential(roles=[role["name"]], integration="Payroll ✓", **scopes)
    api.owner.post(f"/v1/credentials/{credential['id']}/secrets")
    for kind in ("users", "credentials"):
        response = api.owner.get(f"/v1/{kind}", params={"limit": 2})
        canonical = json.dumps(response.json(), separators=(",", ":"), ensure_ascii=False).encode()
        assert response.content == canonical


def test_a_listed_item_follows_every_change_to_what_it_shows(api: Api, db: str) -> None:
    """PostgreSQL keeps each item's JSON as it changes: every write that shows in an item updates it."""
    first, second, third = api.role(), api.role(), api.role()
    names = [first["name"], second["name"]]
    kept, _ = api.user(roles=names)
    disabled, _ = api.user(roles=names)
    rekeyed, _ = api.user()
    keyless, _ = api.user()
    deleted, _ = api.user(roles=names)
    scopes = {"permissions": {"employees": ["read"]}, "attributes": ["salary"]}
    rotated = api.credential(roles=names, **scopes)
    patched = api.credential(roles=[first["name"]])
    gone = api.credential(roles=names)
    changes = [
        ("patch", f"/v1/users/{kept['id']}", {"job_title": "Ops", "roles": [third["name"], second["name"]]}),
        ("patch", f"/v1/users/{disabled['id']}/api-key", {"enabled": False}),
        ("post", f"/v1/users/{rekeyed['id']}/api-key", None),
        ("delete", f"/v1/users/{keyless['id']}/api-key", None),
        ("delete", f"/v1/users/{deleted['id']}", None),
        ("post", f"/v1/credentials/{rotated['id']}/secrets", None),
        ("delete", f"/v1/credentials/{rotated['id']}/secrets/{rotated['secrets'][0]['id']}", None),
        ("patch", f"/v1/credentials/{patched['id']}", {"enabled": False, "roles": names, "attributes": ["iban"]}),
        ("delete", f"/v1/credentials/{gone['id']}", None),
    ]
    for method, path, body in changes:
        response = api.owner.request(method, path, json=body)
        assert response.status_code in (200, 201, 204), (path, response.text)
    storage = open_storage(db)  # writes the API doesn't make (names are immutable, roles change with the owner)
    with storage.transaction(write=True) as tx:
        tx.update("roles", second["id"], {"name": "renamed"})
        tx.set_roles("users", rekeyed["id"], [third["id"]])
        tx.set_roles("credentials", patched["id"], [third["id"], first["id"]])
    storage.close()
    for kind, ids in (
        ("users", [kept["id"], disabled["id"], rekeyed["id"], keyless["id"]]),
        ("credentials", [rotated["id"], patched["id"]]),
    ):
        listed = api.owner.get(f"/v1/{kind}", params={"limit": 1000}).json()["items"]
        assert [item["id"] for item in listed if item["id"] in ids] == ids  # creation order, deleted ones gone
        assert {deleted["id"], gone["id"]}.isdisjoint(item["id"] for item in listed)
        for item in listed:
            assert item == api.owner.get(f"/v1/{kind}/{item['id']}").json()
    assert next(item for item in listed if item["id"] == rotated["id"])["roles"] == ["renamed", first["name"]]


def test_a_postgresql_database_upgraded_to_stored_items_lists_what_it_held(
    pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 2 renders the items of the users and credentials a database already had."""
    url = pg_cluster.create_database()
    monkeypatch.setattr(postgresql, "MIGRATIONS", postgresql.MIGRATIONS[:1])  # a database of the release before
    monkeypatch.setattr(postgresql, "SCHEMA_VERSION", 1)
    owner_key = init_organization(url, "owner@example.com")
    storage = open_storage(url)
    stamps = {"version": 3, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"}
    scopes = {"permissions": {"employees": ["read"]}, "attributes": ["salary"], "managed_by": None}
    user = {"id": "usr_1", "email": "Ada@x.io", "email_lower": "ada@x.io", "first_name": "Ada", "last_name": ""}
    user.update(job_title="Ops é", default_folder="", role="standard", cognitive_access=False, archived=True)
    with storage.transaction(write=True) as tx:
        for name in ("b", "a"):
            tx.insert("roles", {"id": f"rol_{name}", "name": name, "description": "", **scopes, **stamps})
        tx.insert("users", {**user, "managed_by": "keyform", **stamps})
        key = {"id": "key_1", "user_id": "usr_1", "hash": "h", "prefix": "kfk_abcd", "enabled": False}
        tx.insert("api_keys", {**key, "created_at": "2026-01-03T00:00:00Z"})
        tx.set_roles("users", "usr_1", ["rol_a", "rol_b"])
        credential = {"id": "cred_1", "name": "c", "integration": "", "enabled": True, "client_id": "kfc_1"}
        tx.insert("credentials", {**credential, **scopes, **stamps})
        for n in (1, 2):
            secret = {"id": f"sec_{n}", "credential_id": "cred_1", "hash": f"s{n}"}
            tx.insert("client_secrets", {**secret, "created_at": f"2026-01-0{n}T00:00:00Z"})
        tx.set_roles("credentials", "cred_1", ["rol_b", "rol_a"])
    storage.close()
    monkeypatch.undo()
    with running_server(url) as server:
        server.owner_token = owner_key
        api = Api(server)
        try:
            for kind, resource_id in (("users", "usr_1"), ("credentials", "cred_1")):
                listed = api.owner.get(f"/v1/{kind}").json()["items"]
                assert resource_id in [item["id"] for item in listed]
                for item in listed:
                    assert item == api.owner.get(f"/v1/{kind}/{item['id']}").json()
        finally:
            api.close()
    pg_cluster.drop_database(url)
