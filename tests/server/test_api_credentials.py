"""Credentials over HTTP: one-time secrets, two-secret rotation overlap, the token exchange."""

from __future__ import annotations

import re

from .conftest import Api, error_of


def exchange(api: Api, client_id: str, secret: str, *, form: bool = False):
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    session = api.session()
    return session.post("/v1/oauth/token", data=body) if form else session.post("/v1/oauth/token", json=body)


def test_credential_lifecycle(api: Api) -> None:
    created = api.owner.post("/v1/credentials", json={"name": "payroll", "integration": "DATEV"})
    assert created.status_code == 201
    credential = created.json()
    assert re.fullmatch(r"kfs_[A-Za-z0-9_-]{40}", credential["client_secret"])
    assert credential["enabled"] is True and credential["client_id"].startswith("kfc_")
    fetched = api.owner.get(f"/v1/credentials/{credential['id']}")
    assert "client_secret" not in fetched.json() and credential["client_secret"] not in fetched.text
    assert credential["client_secret"] not in api.owner.get("/v1/credentials").text
    patched = api.owner.patch(f"/v1/credentials/{credential['id']}", json={"name": "payroll-2", "enabled": False})
    assert patched.status_code == 200 and patched.json()["name"] == "payroll-2"
    assert patched.json()["etag"] != credential["etag"]
    assert api.owner.delete(f"/v1/credentials/{credential['id']}").status_code == 204
    assert api.owner.get(f"/v1/credentials/{credential['id']}").status_code == 404


def test_credential_names_are_unique(api: Api) -> None:
    first, second = api.credential(), api.credential()
    status, code, message = error_of(api.owner.post("/v1/credentials", json={"name": first["name"]}))
    assert (status, code) == (409, "conflict") and "already exists" in message
    renamed = api.owner.patch(f"/v1/credentials/{second['id']}", json={"name": first["name"]})
    assert error_of(renamed)[:2] == (409, "conflict")


def test_secret_rotation_with_overlap(api: Api) -> None:
    credential = api.credential()
    path = f"/v1/credentials/{credential['id']}/secrets"
    added = api.owner.post(path)
    assert added.status_code == 201
    new = added.json()
    assert added.headers["ETag"] != credential["etag"]
    assert api.owner.get(f"/v1/credentials/{credential['id']}").headers["ETag"] == added.headers["ETag"]
    for secret in (credential["client_secret"], new["client_secret"]):
        assert exchange(api, credential["client_id"], secret).status_code == 200
    status, code, message = error_of(api.owner.post(path))
    assert (status, code) == (409, "conflict") and "2 live secrets" in message
    old_id = credential["secrets"][0]["id"]
    revoked = api.owner.delete(f"{path}/{old_id}")
    assert revoked.status_code == 204
    assert revoked.headers["ETag"] == api.owner.get(f"/v1/credentials/{credential['id']}").headers["ETag"]
    status, code, _ = error_of(exchange(api, credential["client_id"], credential["client_secret"]))
    assert (status, code) == (401, "unauthorized")
    status, code, message = error_of(api.owner.delete(f"{path}/{new['id']}"))
    assert (status, code) == (409, "conflict") and "only live secret" in message
    secrets = api.owner.get(f"/v1/credentials/{credential['id']}").json()["secrets"]
    assert [s["id"] for s in secrets] == [new["id"]]


def test_token_exchange(api: Api) -> None:
    credential = api.credential(permissions={"employees": ["read", "write"], "absences": ["read"]})
    response = exchange(api, credential["client_id"], credential["client_secret"], form=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"] == "absences:read employees:read employees:write"
    token = body["access_token"]
    assert api.session(token).get("/v1/data/employees").status_code == 200
    status, code, message = error_of(exchange(api, credential["client_id"], "kfs_wrong"))
    assert (status, code) == (401, "unauthorized") and "client_id or client_secret is wrong" in message
    assert error_of(exchange(api, "kfc_nobody", credential["client_secret"]))[:2] == (401, "unauthorized")
    bad_grant = api.session().post(
        "/v1/oauth/token", json={"grant_type": "password", "client_id": "a", "client_secret": "b"}
    )
    assert error_of(bad_grant)[:2] == (422, "validation_error") and "grant_type" in error_of(bad_grant)[2]
    api.owner.patch(f"/v1/credentials/{credential['id']}", json={"enabled": False})
    status, code, message = error_of(exchange(api, credential["client_id"], credential["client_secret"]))
    assert (status, code) == (401, "unauthorized") and "disabled" in message
    assert "credential disabled" in error_of(api.session(token).get("/v1/whoami"))[2]
    api.owner.delete(f"/v1/credentials/{credential['id']}")
    status, _, message = error_of(api.session(token).get("/v1/whoami"))
    assert status == 401 and "invalid or expired" in message


def test_a_token_carries_the_scopes_of_every_role_and_either_live_secret_buys_one(api: Api) -> None:
    readers = api.role(permissions={"absences": ["read"]}, attributes=["salary"])
    writers = api.role(permissions={"attendances": ["read", "write"]})
    credential = api.credential(permissions={"employees": ["read"]}, roles=[readers["name"], writers["name"]])
    second = api.owner.post(f"/v1/credentials/{credential['id']}/secrets").json()
    for secret in (credential["client_secret"], second["client_secret"]):
        response = exchange(api, credential["client_id"], secret)
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "absences:read attendances:read attendances:write employees:read"
        whoami = api.session(response.json()["access_token"]).get("/v1/whoami").json()
        assert whoami["attributes"] == ["salary"]
    other = api.credential()
    status, _, message = error_of(exchange(api, credential["client_id"], other["client_secret"]))
    assert status == 401 and "client_id or client_secret is wrong" in message


def test_revoking_a_secret_ends_the_tokens_it_minted_at_once(api: Api) -> None:
    credential = api.credential(permissions={"employees": ["read"]})
    path = f"/v1/credentials/{credential['id']}/secrets"
    old_token = api.token(credential)
    new = api.owner.post(path).json()
    new_token = api.token({**credential, "client_secret": new["client_secret"]})
    assert api.session(old_token).get("/v1/data/employees").status_code == 200
    assert api.owner.delete(f"{path}/{credential['secrets'][0]['id']}").status_code == 204
    status, code, message = error_of(api.session(old_token).get("/v1/data/employees"))
    assert (status, code) == (401, "unauthorized") and "invalid or expired" in message
    assert api.session(new_token).get("/v1/data/employees").status_code == 200


def test_rotating_past_the_overlap_ends_the_old_tokens(api: Api) -> None:
    credential = api.credential(permissions={"employees": ["read"]})
    path = f"/v1/credentials/{credential['id']}/secrets"
    tokens = [api.token(credential)]
    secret = credential
    for _ in range(2):  # two rotations: add the new secret, then revoke the old one
        added = api.owner.post(path).json()
        assert api.owner.delete(f"{path}/{secret['secrets'][0]['id']}").status_code == 204
        secret = {**credential, "client_secret": added["client_secret"], "secrets": [added]}
        tokens.append(api.token(secret))
    for token in tokens[:-1]:
        assert error_of(api.session(token).get("/v1/data/employees"))[:2] == (401, "unauthorized")
    assert api.session(tokens[-1]).get("/v1/data/employees").status_code == 200


def test_a_disable_ends_tokens_for_good(api: Api) -> None:
    credential = api.credential(permissions={"employees": ["read"]})
    path = f"/v1/credentials/{credential['id']}"
    token = api.token(credential)
    assert api.owner.patch(path, json={"enabled": False}).json()["enabled"] is False
    assert error_of(api.session(token).get("/v1/data/employees"))[:2] == (401, "unauthorized")
    assert api.owner.patch(path, json={"enabled": True}).json()["enabled"] is True
    status, code, message = error_of(api.session(token).get("/v1/data/employees"))
    assert (status, code) == (401, "unauthorized") and "exchange client credentials again" in message
    assert api.session(api.token(credential)).get("/v1/data/employees").status_code == 200
