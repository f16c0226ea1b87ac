"""Custom roles over HTTP: catalog checks, immutable names, deletion while in use."""

from __future__ import annotations

from .conftest import Api, error_of


def test_role_lifecycle(api: Api) -> None:
    role = api.role(
        description="HR readers", permissions={"employees": ["write", "read"], "absences": []},
        attributes=["last_name", "first_name", "first_name"], managed_by="keyform",
    )  # fmt: skip
    assert role["permissions"] == {"employees": ["read", "write"]}
    assert role["attributes"] == ["first_name", "last_name"] and role["managed_by"] == "keyform"
    listed = api.owner.get("/v1/roles").json()["items"]
    assert [r["name"] for r in listed] == [role["name"]]
    patched = api.owner.patch(f"/v1/roles/{role['id']}", json={"name": role["name"], "description": "x"})
    assert patched.status_code == 200 and patched.json()["description"] == "x"
    assert patched.json()["etag"] != role["etag"]
    fetched = api.owner.get(f"/v1/roles/{role['id']}")
    assert fetched.json() == patched.json() and fetched.headers["ETag"] == patched.json()["etag"]
    assert api.owner.delete(f"/v1/roles/{role['id']}").status_code == 204
    assert api.owner.get(f"/v1/roles/{role['id']}").status_code == 404


def test_role_validation(api: Api) -> None:
    role = api.role()
    status, code, message = error_of(api.owner.post("/v1/roles", json={"name": role["name"]}))
    assert (status, code) == (409, "conflict") and role["name"] in message
    cases = [
        ({"permissions": {"custom_reports": ["write"]}}, "'custom_reports' is read only"),
        ({"permissions": {"payroll": ["read"]}}, "unknown module 'payroll'"),
        ({"attributes": ["shoe_size"]}, "unknown attribute(s) shoe_size"),
        ({"permissions": {"employees": ["delete"]}}, "'delete' is not one of"),
    ]
    for fields, text in cases:
        status, code, message = error_of(api.owner.post("/v1/roles", json={"name": "new", **fields}))
        assert (status, code) == (422, "validation_error") and text in message
    status, code, message = error_of(api.owner.patch(f"/v1/roles/{role['id']}", json={"name": "renamed"}))
    assert (status, code) == (400, "validation_error") and "can't change" in message


def test_a_role_in_use_cannot_be_deleted(api: Api) -> None:
    role = api.role(permissions={"employees": ["read"]})
    user, _ = api.user(key=False, roles=[role["name"]])
    credential = api.credential(roles=[role["name"]])
    status, code, message = error_of(api.owner.delete(f"/v1/roles/{role['id']}"))
    assert (status, code) == (409, "conflict")
    assert "1 user(s) and 1 credential(s)" in message
    api.owner.patch(f"/v1/users/{user['id']}", json={"roles": []})
    api.owner.patch(f"/v1/credentials/{credential['id']}", json={"roles": []})
    assert api.owner.delete(f"/v1/roles/{role['id']}").status_code == 204
