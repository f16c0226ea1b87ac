"""Users and API keys over HTTP: lifecycle, one active key per user, the last-owner rules."""

from __future__ import annotations

import re

from .conftest import OWNER_EMAIL, Api, error_of


def owner_id(api: Api) -> str:
    return api.owner.get("/v1/users", params={"email": OWNER_EMAIL}).json()["items"][0]["id"]


def test_user_lifecycle(api: Api) -> None:
    role = api.role(permissions={"employees": ["read"]})
    body = {"email": "Dana.Data@Example.com", "first_name": "Dana", "last_name": "Data", "roles": [role["name"]]}
    created = api.owner.post("/v1/users", json=body)
    assert created.status_code == 201
    user = created.json()
    assert user["email"] == "Dana.Data@Example.com"  # stored as given
    assert (user["role"], user["job_title"], user["default_folder"]) == ("standard", "", "")
    assert user["roles"] == [role["name"]] and user["api_key"] is None
    assert created.headers["ETag"] == user["etag"]
    found = api.owner.get("/v1/users", params={"email": "dana.data@example.COM"}).json()["items"]
    assert [u["id"] for u in found] == [user["id"]]
    patched = api.owner.patch(f"/v1/users/{user['id']}", json={"job_title": "Integration", "roles": []})
    assert patched.status_code == 200
    assert patched.json()["job_title"] == "Integration" and patched.json()["roles"] == []
    assert patched.json()["etag"] != user["etag"]
    assert api.owner.delete(f"/v1/users/{user['id']}").status_code == 204
    assert api.owner.get(f"/v1/users/{user['id']}").status_code == 404


def test_email_rules(api: Api) -> None:
    user, _ = api.user(key=False)
    dup = {"email": user["email"].upper(), "first_name": "X", "last_name": "Y"}
    status, code, message = error_of(api.owner.post("/v1/users", json=dup))
    assert (status, code) == (409, "conflict") and "already exists" in message
    other, _ = api.user(key=False)
    status, code, message = error_of(api.owner.patch(f"/v1/users/{other['id']}", json={"email": user["email"]}))
    assert (status, code) == (409, "conflict") and user["email"] in message
    bad = {"email": "not-an-email", "first_name": "X", "last_name": "Y"}
    status, code, message = error_of(api.owner.post("/v1/users", json=bad))
    assert (status, code) == (422, "validation_error") and "not a valid email" in message
    unknown_role = {"email": "r@example.com", "first_name": "X", "last_name": "Y", "roles": ["ghost"]}
    status, code, message = error_of(api.owner.post("/v1/users", json=unknown_role))
    assert (status, code) == (422, "validation_error") and "ghost" in message
    wrong_type = {"email": "t@example.com", "first_name": 7, "last_name": "Y"}
    status, code, message = error_of(api.owner.post("/v1/users", json=wrong_type))
    assert (status, code) == (422, "validation_error") and "first_name" in message


def test_api_key_is_shown_once_and_regeneration_kills_the_old_key(api: Api) -> None:
    user, _ = api.user(key=False)
    first = api.owner.post(f"/v1/users/{user['id']}/api-key")
    assert first.status_code == 201
    key = first.json()["api_key"]
    assert re.fullmatch(r"kfk_[A-Za-z0-9_-]{40}", key) and first.json()["prefix"] == key[:8]
    shown = api.owner.get(f"/v1/users/{user['id']}")
    assert key not in shown.text and shown.json()["api_key"]["prefix"] == key[:8]
    assert key not in api.owner.get("/v1/users").text
    assert api.session(key).get("/v1/whoami").json()["principal"]["name"] == user["email"]
    second = api.owner.post(f"/v1/users/{user['id']}/api-key").json()["api_key"]
    status, code, message = error_of(api.session(key).get("/v1/whoami"))
    assert (status, code) == (401, "unauthorized") and "replaced" in message
    assert api.session(second).get("/v1/whoami").status_code == 200


def test_disabled_deleted_and_archived_keys_get_401(api: Api) -> None:
    user, key = api.user()
    path = f"/v1/users/{user['id']}/api-key"
    disabled = api.owner.patch(path, json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    status, code, message = error_of(api.session(key).get("/v1/whoami"))
    assert (status, code) == (401, "unauthorized") and "disabled" in message
    assert api.owner.patch(path, json={"enabled": True}).json()["enabled"] is True
    assert api.session(key).get("/v1/whoami").status_code == 200
    archived = api.owner.patch(f"/v1/users/{user['id']}", json={"archived": True})
    assert archived.json()["archived"] is True
    status, code, message = error_of(api.session(key).get("/v1/whoami"))
    assert (status, code) == (401, "unauthorized") and "archived" in message
    status, code, message = error_of(api.owner.post(path))
    assert (status, code) == (409, "conflict") and "archived" in message
    api.owner.patch(f"/v1/users/{user['id']}", json={"archived": False})
    assert api.owner.delete(path).status_code == 204
    assert api.session(key).get("/v1/whoami").status_code == 401
    assert api.owner.get(f"/v1/users/{user['id']}").json()["api_key"] is None
    status, code, message = error_of(api.owner.patch(path, json={"enabled": True}))
    assert (status, code) == (404, "not_found") and "has no API key" in message


def test_the_last_active_owner_is_protected(api: Api) -> None:
    owner = owner_id(api)
    cases = [
        ("PATCH", f"/v1/users/{owner}", {"role": "account_admin"}, "be demoted"),
        ("PATCH", f"/v1/users/{owner}", {"archived": True}, "be archived"),
        ("DELETE", f"/v1/users/{owner}", None, "be deleted"),
        ("PATCH", f"/v1/users/{owner}/api-key", {"enabled": False}, "disabled"),
        ("DELETE", f"/v1/users/{owner}/api-key", None, "deleted"),
    ]
    for method, path, body, what in cases:
        status, code, message = error_of(api.owner.request(method, path, json=body))
        assert (status, code) == (409, "conflict"), (method, path)
        assert "last Account Owner with a working API key" in message and what in message
    second, second_key = api.user(role="account_owner")
    demoted = api.owner.patch(f"/v1/users/{owner}", json={"role": "account_admin"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "account_admin"
    status, code, _ = error_of(api.session(second_key).delete(f"/v1/users/{second['id']}"))
    assert (status, code) == (409, "conflict")


def test_the_last_owner_with_a_working_key_keeps_it(api: Api) -> None:
    """A second owner without a key doesn't count: otherwise the first could lock everyone out."""
    owner = owner_id(api)
    second, _ = api.user(role="account_owner", key=False)
    api.set_api_access(False)
    cases = [
        ("DELETE", f"/v1/users/{owner}/api-key", None, "have their API key deleted"),
        ("PATCH", f"/v1/users/{owner}/api-key", {"enabled": False}, "have their API key disabled"),
        ("PATCH", f"/v1/users/{owner}", {"role": "account_admin"}, "be demoted"),
        ("PATCH", f"/v1/users/{owner}", {"archived": True}, "be archived"),
        ("DELETE", f"/v1/users/{owner}", None, "be deleted"),
    ]
    for method, path, body, what in cases:
        status, code, message = error_of(api.owner.request(method, path, json=body))
        assert (status, code) == (409, "conflict"), (method, path)
        assert message == (
            f"{OWNER_EMAIL} is the last Account Owner with a working API key and can't {what}; "
            "give another Account Owner an enabled API key first"
        )
    api.set_api_access(True)
    assert api.owner.get("/v1/organization").json()["api_access"] is True
    second_key = api.owner.post(f"/v1/users/{second['id']}/api-key").json()["api_key"]
    api.owner.patch(f"/v1/users/{second['id']}/api-key", json={"enabled": False})
    status, _, message = error_of(api.owner.delete(f"/v1/users/{owner}/api-key"))
    assert status == 409 and "last Account Owner with a working API key" in message
    api.owner.patch(f"/v1/users/{second['id']}/api-key", json={"enabled": True})
    assert api.owner.delete(f"/v1/users/{owner}/api-key").status_code == 204
    assert api.session(second_key).patch("/v1/organization", json={"api_access": False}).status_code == 200
    assert api.session(second_key).patch("/v1/organization", json={"api_access": True}).status_code == 200
