"""List pages are rendered by the database: each listed item is exactly what a GET of it returns."""

from __future__ import annotations

import json

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
