"""The data API that keys and credentials unlock: demo HR records, filtered by scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keyform.catalog import REFERENCE_CATALOG
from keyform.server.context import Context, Route
from keyform.server.errors import forbidden, invalid
from keyform.server.storage import Transaction
from keyform.server.tokens import new_id
from keyform.server.web import Response

FIRST = ["Ada", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon"]
LAST = ["Meyer", "Okafor", "Schmidt", "Tanaka", "Weber", "Novak", "Costa", "Larsen", "Ivanova", "Kim"]
DEPARTMENTS = ["Engineering", "Sales", "People", "Finance"]
PREFIXES = {
    "employees": "emp",
    "attendances": "att",
    "absences": "abs",
    "documents": "doc",
    "custom_reports": "rep",
    "cognitive": "cog",
}
EMPLOYEE_COUNT = 20


def _employee(n: int) -> dict[str, Any]:
    first, last = FIRST[n % 10], LAST[(n * 3) % 10]
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{first}.{last}{n}@example.com".lower(),
        "department": DEPARTMENTS[n % 4],
        "position": ["Engineer", "Manager", "Analyst"][n % 3],
        "office": ["Berlin", "Munich", "Remote"][n % 3],
        "supervisor": None if n < 2 else n % 2,
        "hire_date": f"20{15 + n % 9}-0{1 + n % 9}-15",
        "employment_type": "full_time",
        "weekly_hours": 40 if n % 4 else 32,
        "birthday": f"19{70 + n}-0{1 + n % 9}-{10 + n}",
        "salary": 52000 + 1750 * n,
        "iban": f"DE89370400440532013{n:03d}",
        "social_security_number": f"65 170839 J {n:03d}",
    }


def seed(tx: Transaction, now: str) -> None:
    """~20 employees and a few rows per module, written when the organisation is created."""
    employees: list[str] = []
    for n in range(EMPLOYEE_COUNT):
        employee_id = new_id("emp")
        data = _employee(n)
        if data["supervisor"] is not None:
            data["supervisor"] = employees[data["supervisor"]]
        tx.insert("records", {"id": employee_id, "module": "employees", "data": data, "created_at": now})
        employees.append(employee_id)
    rows: dict[str, list[dict[str, Any]]] = {
        "attendances": [{"employee_id": e, "date": "2024-05-06", "hours": 8} for e in employees[:6]],
        "absences": [
            {"employee_id": e, "type": "vacation", "start_date": "2024-07-01", "end_date": "2024-07-12"}
            for e in employees[:4]
        ],
        "documents": [{"employee_id": e, "title": "Contract", "category": "contracts"} for e in employees[:5]],
        "custom_reports": [
            {"name": "Headcount by department", "rows": len(DEPARTMENTS)},
            {"name": "Salary bands", "rows": 5},
        ],
        "cognitive": [
            {"employee_id": e, "score": 250 + 9 * i, "assessed_on": "2023-11-20"} for i, e in enumerate(employees[:8])
        ],
    }
    for module, items in rows.items():
        for data in items:
            record = {"id": new_id(PREFIXES[module]), "module": module, "data": data, "created_at": now}
            tx.insert("records", record)


def _need(ctx: Context, module: str, level: str) -> None:
    if not ctx.actor.may(module, level):
        raise forbidden(f"this key or token lacks the {module}:{level} permission; grant it first")


def _item(record: dict[str, Any], attributes: list[str] | None) -> dict[str, Any]:
    data = record["data"]
    if attributes is not None:
        data = {k: v for k, v in data.items() if k in attributes}
    return {"id": record["id"], **data}


def list_records(module: str) -> Callable[[Context], Response]:
    def handler(ctx: Context) -> Response:
        if module == "cognitive":
            if not ctx.actor.cognitive_access:
                raise forbidden("cognitive data needs cognitive_access, which an Account Owner grants")
        else:
            _need(ctx, module, "read")
        attributes = ctx.actor.attributes if module == "employees" else None
        items = [_item(record, attributes) for record in ctx.tx.records(module)]
        return Response(200, {"items": items})

    return handler


def create_record(module: str) -> Callable[[Context], Response]:
    def handler(ctx: Context) -> Response:
        if REFERENCE_CATALOG.is_read_only(module):
            raise forbidden(f"module {module} is read only; it can't be written")
        _need(ctx, module, "write")
        attributes = None
        if module == "employees":
            attributes = ctx.actor.attributes
            refused = sorted(set(ctx.body) - set(attributes))
            if refused:
                raise forbidden(f"this key or token may not write attribute(s) {', '.join(refused)}")
        elif (ctx.tx.find("records", "id", ctx.body["employee_id"]) or {}).get("module") != "employees":
            raise invalid(f"employee_id {ctx.body['employee_id']!r} does not exist")
        record = {"id": new_id(PREFIXES[module]), "module": module, "data": ctx.body}
        record["created_at"] = ctx.now
        ctx.tx.insert("records", record)
        return Response(201, _item(record, attributes))

    return handler


SCHEMAS = {
    "employees": "EmployeeWrite",
    "attendances": "AttendanceWrite",
    "absences": "AbsenceWrite",
    "documents": "DocumentWrite",
    "custom_reports": None,
}

ROUTES = [
    Route("GET", "/v1/data/cognitive", list_records("cognitive"), access="principal"),
    *[Route("GET", f"/v1/data/{m}", list_records(m), access="principal") for m in SCHEMAS],
    *[
        Route("POST", f"/v1/data/{m}", create_record(m), access="principal", write=True, body=s)
        for m, s in SCHEMAS.items()
    ],
]
