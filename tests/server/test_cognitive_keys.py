"""Only an Account Owner may hand out a working key that reads cognitive data: an Account Admin
(whose own key can't read it) can't generate, re-enable or widen the key of a user with cognitive_access."""

from __future__ import annotations

from .conftest import Api, ApiSession, error_of

WHY = "who has cognitive_access"


def admin_session(api: Api) -> ApiSession:
    _, key = api.user(role="account_admin")
    return api.session(key)


def admin_user_id(admin: ApiSession) -> str:
    return admin.get("/v1/whoami").json()["principal"]["id"]


def assert_refused(response, action: str, email: str) -> None:
    status, code, message = error_of(response)
    assert (status, code) == (403, "forbidden"), response.text
    assert message.startswith(f"only an Account Owner may {action}") and email in message and WHY in message


def assert_no_key_reads_cognitive_data(api: Api, user: dict) -> None:
    assert api.owner.get(f"/v1/users/{user['id']}").json()["api_key"] is None


def test_an_admin_cannot_generate_a_key_for_a_user_with_cognitive_access(api: Api) -> None:
    admin = admin_session(api)
    user, _ = api.user(key=False, cognitive_access=True)
    assert_refused(admin.post(f"/v1/users/{user['id']}/api-key"), "generate the API key", user["email"])
    assert_no_key_reads_cognitive_data(api, user)
    key = api.owner.post(f"/v1/users/{user['id']}/api-key").json()["api_key"]
    assert api.session(key).get("/v1/data/cognitive").status_code == 200
    assert_refused(admin.post(f"/v1/users/{user['id']}/api-key"), "generate the API key", user["email"])
    assert api.session(key).get("/v1/data/cognitive").status_code == 200  # the owner's key was not replaced


def test_an_admin_cannot_promote_a_user_with_cognitive_access_or_then_generate_their_key(api: Api) -> None:
    admin = admin_session(api)
    user, _ = api.user(key=False, cognitive_access=True)
    promote = admin.patch(f"/v1/users/{user['id']}", json={"role": "account_admin"})
    assert_refused(promote, "promote", user["email"])
    promoted = api.owner.patch(f"/v1/users/{user['id']}", json={"role": "account_admin"})
    assert promoted.json()["role"] == "account_admin"
    assert_refused(admin.post(f"/v1/users/{user['id']}/api-key"), "generate the API key", user["email"])
    assert_no_key_reads_cognitive_data(api, user)


def test_an_admin_cannot_unarchive_a_user_with_cognitive_access_or_then_generate_their_key(api: Api) -> None:
    admin = admin_session(api)
    user, _ = api.user(key=False, cognitive_access=True, archived=True)
    assert_refused(admin.patch(f"/v1/users/{user['id']}", json={"archived": False}), "un-archive", user["email"])
    assert api.owner.patch(f"/v1/users/{user['id']}", json={"archived": False}).json()["archived"] is False
    assert_refused(admin.post(f"/v1/users/{user['id']}/api-key"), "generate the API key", user["email"])
    assert_no_key_reads_cognitive_data(api, user)


def test_an_admin_cannot_re_enable_or_widen_a_key_with_cognitive_access(api: Api) -> None:
    admin = admin_session(api)
    role = api.role(permissions={"absences": ["read"]})
    user, key = api.user(cognitive_access=True)
    path = f"/v1/users/{user['id']}"
    assert admin.patch(f"{path}/api-key", json={"enabled": False}).json()["enabled"] is False  # less access: fine
    assert_refused(admin.patch(f"{path}/api-key", json={"enabled": True}), "re-enable the API key", user["email"])
    assert error_of(api.session(key).get("/v1/data/cognitive"))[:2] == (401, "unauthorized")
    assert_refused(admin.patch(path, json={"roles": [role["name"]]}), "add custom roles to", user["email"])
    granted = error_of(admin.patch(f"/v1/users/{admin_user_id(admin)}", json={"cognitive_access": True}))
    assert granted == (403, "forbidden", "only an Account Owner may grant cognitive_access")
    assert api.owner.get(path).json()["roles"] == []


def test_an_admin_may_reduce_access_and_act_once_cognitive_access_is_gone(api: Api) -> None:
    admin = admin_session(api)
    user, key = api.user(cognitive_access=True)
    path = f"/v1/users/{user['id']}"
    assert admin.patch(path, json={"job_title": "Hiring"}).status_code == 200
    revoked = admin.patch(path, json={"cognitive_access": False, "role": "account_admin"})
    assert revoked.status_code == 200 and revoked.json()["cognitive_access"] is False
    new_key = admin.post(f"{path}/api-key").json()["api_key"]
    status, code, _ = error_of(api.session(new_key).get("/v1/data/cognitive"))
    assert (status, code) == (403, "forbidden")
    assert api.session(key).get("/v1/whoami").status_code == 401
