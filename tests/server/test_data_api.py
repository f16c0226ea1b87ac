"""The data API: permissions per module, attribute filtering, cognitive data, writes."""

from __future__ import annotations

from .conftest import Api, error_of


def test_attribute_filtering_for_a_credential(api: Api) -> None:
    credential = api.credential(permissions={"employees": ["read"]}, attributes=["first_name"])
    session = api.session(api.token(credential))
    items = session.get("/v1/data/employees").json()["items"]
    assert len(items) == 20
    assert all(set(item) == {"id", "first_name"} for item in items)
    assert "salary" not in session.get("/v1/data/employees").text
    owner_items = api.owner.get("/v1/data/employees").json()["items"]
    assert all("salary" in item and "iban" in item for item in owner_items)


def test_module_permissions(api: Api) -> None:
    role = api.role(permissions={"absences": ["read"]}, attributes=["last_name"])
    _, key = api.user(roles=[role["name"]])
    session = api.session(key)
    absences = session.get("/v1/data/absences").json()["items"]
    assert absences and all(item["employee_id"].startswith("emp_") for item in absences)
    for module in ("employees", "attendances", "documents", "custom_reports"):
        status, code, message = error_of(session.get(f"/v1/data/{module}"))
        assert (status, code) == (403, "forbidden") and f"{module}:read" in message
    body = {
        "employee_id": absences[0]["employee_id"],
        "type": "sick",
        "start_date": "2024-01-02",
        "end_date": "2024-01-03",
    }
    status, code, message = error_of(session.post("/v1/data/absences", json=body))
    assert (status, code) == (403, "forbidden") and "absences:write" in message
    writes = {
        "employees": {"last_name": "X"},
        "attendances": {"employee_id": body["employee_id"], "date": "2024-01-02", "hours": 1},
        "documents": {"employee_id": body["employee_id"], "title": "T", "category": "c"},
    }
    for module, record in writes.items():
        status, code, message = error_of(session.post(f"/v1/data/{module}", json=record))
        assert (status, code) == (403, "forbidden") and f"{module}:write" in message


def test_cognitive_data_needs_cognitive_access(api: Api) -> None:
    results = api.owner.get("/v1/data/cognitive")
    assert results.status_code == 200 and len(results.json()["items"]) == 8
    user, key = api.user(role="account_admin")
    status, code, message = error_of(api.session(key).get("/v1/data/cognitive"))
    assert (status, code) == (403, "forbidden") and "cognitive_access" in message
    api.owner.patch(f"/v1/users/{user['id']}", json={"cognitive_access": True})
    assert api.session(key).get("/v1/data/cognitive").status_code == 200
    token = api.token(api.credential(permissions={"employees": ["read"]}))
    assert error_of(api.session(token).get("/v1/data/cognitive"))[:2] == (403, "forbidden")


def test_writes(api: Api) -> None:
    credential = api.credential(
        permissions={m: ["read", "write"] for m in ("employees", "attendances", "absences", "documents")},
        attributes=["first_name", "last_name"],
    )
    session = api.session(api.token(credential))
    created = session.post("/v1/data/employees", json={"first_name": "Nia", "last_name": "Ng"})
    assert created.status_code == 201 and created.json()["first_name"] == "Nia"
    employee_id = created.json()["id"]
    assert employee_id in {e["id"] for e in session.get("/v1/data/employees").json()["items"]}
    status, code, message = error_of(session.post("/v1/data/employees", json={"first_name": "X", "salary": 1}))
    assert (status, code) == (403, "forbidden") and "salary" in message
    rows = {
        "attendances": {"employee_id": employee_id, "date": "2024-05-07", "hours": 7.5},
        "absences": {
            "employee_id": employee_id,
            "type": "vacation",
            "start_date": "2024-08-01",
            "end_date": "2024-08-02",
        },
        "documents": {"employee_id": employee_id, "title": "Offer", "category": "contracts"},
    }
    for module, body in rows.items():
        response = session.post(f"/v1/data/{module}", json=body)
        assert response.status_code == 201 and response.json()["employee_id"] == employee_id
        assert response.json()["id"] in {r["id"] for r in session.get(f"/v1/data/{module}").json()["items"]}
    unknown = {**rows["documents"], "employee_id": "emp_0000"}
    status, code, message = error_of(session.post("/v1/data/documents", json=unknown))
    assert (status, code) == (422, "validation_error") and "emp_0000" in message
    status, code, message = error_of(api.owner.post("/v1/data/custom_reports", json={}))
    assert (status, code) == (403, "forbidden") and "read only" in message
    assert len(api.owner.get("/v1/data/custom_reports").json()["items"]) == 2
