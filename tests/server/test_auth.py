"""Authorisation rules: owner vs admin vs standard keys, credentials, and the api_access switch."""

from __future__ import annotations

from .conftest import OWNER_EMAIL, Api, error_of


def test_admin_can_manage_but_not_owner_only_actions(api: Api) -> None:
    _, admin_key = api.user(role="account_admin")
    admin = api.session(admin_key)
    base = {"first_name": "A", "last_name": "B"}
    created = admin.post("/v1/users", json={"email": "plain@example.com", **base})
    assert created.status_code == 201
    user_id = created.json()["id"]
    owner_only = [
        (admin.post("/v1/users", json={"email": "o@example.com", "role": "account_owner", **base}),
         "create or promote a user to account_owner"),
        (admin.post("/v1/users", json={"email": "c@example.com", "cognitive_access": True, **base}),
         "grant cognitive_access"),
        (admin.patch(f"/v1/users/{user_id}", json={"role": "account_owner"}),
         "create or promote a user to account_owner"),
        (admin.patch(f"/v1/users/{user_id}", json={"cognitive_access": True}), "grant cognitive_access"),
        (admin.patch("/v1/organization", json={"api_access": False}), "switch api_access"),
    ]  # fmt: skip
    for response, action in owner_only:
        status, code, message = error_of(response)
        assert (status, code) == (403, "forbidden")
        assert message == f"only an Account Owner may {action}"
    owner = api.owner.get("/v1/users", params={"email": OWNER_EMAIL}).json()["items"][0]
    status, code, message = error_of(admin.post(f"/v1/users/{owner['id']}/api-key"))
    assert (status, code) == (403, "forbidden") and "Account Owner" in message
    status, code, message = error_of(admin.patch(f"/v1/users/{owner['id']}", json={"job_title": "x"}))
    assert (status, code) == (403, "forbidden") and "change, archive or delete an Account Owner" in message
    renamed = admin.patch("/v1/organization", json={"name": "Acme GmbH"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme GmbH"
    revoked = admin.patch(f"/v1/users/{user_id}", json={"cognitive_access": False, "role": "account_admin"})
    assert revoked.status_code == 200 and revoked.json()["role"] == "account_admin"


def test_owner_grants_cognitive_access_and_promotes(api: Api) -> None:
    user, key = api.user()
    granted = api.owner.patch(f"/v1/users/{user['id']}", json={"cognitive_access": True})
    assert granted.json()["cognitive_access"] is True
    assert api.session(key).get("/v1/whoami").json()["cognitive_access"] is True
    promoted = api.owner.patch(f"/v1/users/{user['id']}", json={"role": "account_owner"})
    assert promoted.json()["role"] == "account_owner"
    me = api.session(key).get("/v1/whoami").json()
    assert (me["role"], me["can_manage"]) == ("account_owner", True)


def test_whoami_for_each_kind_of_principal(api: Api) -> None:
    role = api.role(permissions={"absences": ["read"]}, attributes=["last_name"])
    user, key = api.user(roles=[role["name"]])
    me = api.session(key).get("/v1/whoami").json()
    assert me["principal"] == {"type": "api_key", "id": user["id"], "name": user["email"]}
    assert (me["role"], me["can_manage"]) == ("standard", False)
    assert me["permissions"] == {"absences": ["read"]} and me["attributes"] == ["last_name"]
    owner = api.owner.get("/v1/whoami").json()
    assert owner["permissions"]["custom_reports"] == ["read"]
    assert owner["permissions"]["employees"] == ["read", "write"] and "salary" in owner["attributes"]
    credential = api.credential(roles=[role["name"]], permissions={"employees": ["read"]}, attributes=["first_name"])
    me = api.session(api.token(credential)).get("/v1/whoami").json()
    assert me["principal"] == {"type": "credential", "id": credential["id"], "name": credential["name"]}
    assert me["role"] is None and me["can_manage"] is False and me["cognitive_access"] is False
    assert me["permissions"] == {"absences": ["read"], "employees": ["read"]}
    assert me["attributes"] == ["first_name", "last_name"]
    assert api.session(api.token(credential)).get("/v1/catalog").status_code == 200


def test_access_tokens_cannot_manage(api: Api) -> None:
    token = api.token(api.credential())
    status, code, _ = error_of(api.session(token).get("/v1/users"))
    assert (status, code) == (403, "forbidden")


def test_api_access_off_refuses_everything_but_the_owner_on_management(api: Api) -> None:
    _, admin_key = api.user(role="account_admin")
    credential = api.credential(permissions={"employees": ["read"]})
    token = api.token(credential)
    api.set_api_access(False)
    refused = [
        api.session(admin_key).get("/v1/users"),
        api.session(admin_key).get("/v1/server/stats"),
        api.session(token).get("/v1/data/employees"),
        api.owner.get("/v1/data/employees"),
        api.owner.get("/v1/data/cognitive"),
        api.owner.get("/v1/catalog"),
        api.owner.get("/v1/whoami"),
        api.session().post("/v1/oauth/token", json={
            "grant_type": "client_credentials", "client_id": credential["client_id"],
            "client_secret": credential["client_secret"]}),
    ]  # fmt: skip
    for response in refused:
        status, code, message = error_of(response)
        assert (status, code) == (403, "api_access_disabled"), response.url
        assert "Account Owner can switch it on" in message
    for module in ("attendances", "absences", "documents", "custom_reports"):
        assert error_of(api.owner.get(f"/v1/data/{module}"))[1] == "api_access_disabled"
    assert api.owner.get("/v1/users").status_code == 200
    assert api.owner.get("/v1/server/stats").status_code == 200
    api.set_api_access(True)
    assert api.session(token).get("/v1/data/employees").status_code == 200
    assert api.owner.get("/v1/organization").json()["api_access"] is True
