"""The PostgreSQL provider's kinds: `login_roles` and `group_roles`, and the `provider:` options.

A role's grants live in its spec, so one change is one role with everything it holds, applied in one
transaction. Grants are scoped to the database keyform connects to. Canonically a grant is a string
`ON:OBJECT:PRIVILEGE`: `database:CONNECT`, `schema:public:USAGE`, `table:public.orders:SELECT`,
`sequence:public.orders_id_seq:USAGE`, `column:public.employees.salary:SELECT`, and default
privileges as `default:OWNER.SCHEMA.tables:SELECT`; role attributes are `role:CREATEDB`. Importing
this module does not import psycopg.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from typing import Any

from keyform.contract import JSON, Kind, Rotation, SecretSource, SecretSpec
from keyform.providers.postgresql import overlap

ATTRIBUTES = ("SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS", "REPLICATION")
DATABASE_PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")
SCHEMA_PRIVILEGES = ("USAGE", "CREATE")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
DEFAULT_PRIVILEGES = {"tables": TABLE_PRIVILEGES, "sequences": SEQUENCE_PRIVILEGES, "functions": ("EXECUTE",)}
READ_PRIVILEGES = frozenset({"CONNECT", "USAGE", "SELECT", "TEMPORARY", "REFERENCES"})
ALIASES = {"TEMP": "TEMPORARY"}
NAMES = {"pattern": "^[a-z_][a-z0-9_]{0,62}$"}
NAME_HINT = "is not a valid role name: use lowercase letters, digits and '_' (at most 63), not starting with a digit"
QUALIFIED = "^[a-z_][a-z0-9_$]*\\.[a-z_][a-z0-9_$]*$"
IDENT = "^[a-z_][a-z0-9_$]*$"
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def _privileges(choices: tuple[str, ...], what: str) -> dict[str, Any]:
    names = [*choices, *(alias for alias, target in ALIASES.items() if target in choices)]
    return {"type": "array", "uniqueItems": True, "items": {"enum": names}, "description": what}


def _per_object(pattern: str, choices: tuple[str, ...], what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "propertyNames": {"pattern": pattern},
        "additionalProperties": _privileges(choices, "Privileges on it."),
        "description": what,
    }


GRANTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "Privileges in the database keyform connects to.",
    "properties": {
        "database": _privileges(DATABASE_PRIVILEGES, "On the database itself: CONNECT, CREATE, TEMP."),
        "schemas": _per_object(IDENT, SCHEMA_PRIVILEGES, "By schema name: USAGE, CREATE."),
        "tables": _per_object(QUALIFIED, TABLE_PRIVILEGES, "By schema.table (tables and views)."),
        "sequences": _per_object(QUALIFIED, SEQUENCE_PRIVILEGES, "By schema.sequence."),
        "default_privileges": {
            "type": "object",
            "propertyNames": {"pattern": IDENT},
            "description": "ALTER DEFAULT PRIVILEGES: by the role that creates the objects, then schema: what it "
            "gets on the tables, sequences and functions created there later.",
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"pattern": IDENT},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        on: _privileges(kinds, f"On {on} made later.") for on, kinds in DEFAULT_PRIVILEGES.items()
                    },
                },
            },
        },
        "columns": {
            "type": "object",
            "propertyNames": {"pattern": QUALIFIED},
            "description": "Column-level grants by schema.table: privilege -> the columns it allows.",
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": list(COLUMN_PRIVILEGES)},
                "additionalProperties": {"type": "array", "uniqueItems": True, "items": {"pattern": IDENT}},
            },
        },
    },
}
COMMON = {
    "member_of": {
        "type": "array",
        "uniqueItems": True,
        "items": {"type": "string"},
        "description": "Group roles it is a member of (inherits their privileges).",
    },
    "attributes": {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": list(ATTRIBUTES)},
        "description": "Role attributes; every one is an escalation.",
    },
    "grants": GRANTS_SCHEMA,
}
LOGIN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **COMMON,
        "connection_limit": {"type": "integer", "minimum": -1, "description": "Concurrent connections (-1: no limit)."},
        "valid_until": {"type": "string", "description": "When its password stops working (ISO 8601)."},
        "password": {
            "type": "object",
            "additionalProperties": False,
            "description": "The password keyform generates: its rotation policy.",
            "properties": {
                "rotate_after": {"type": "string", "description": "Rotate the password when it is this old, e.g. 90d."},
                "rotation_overlap": {
                    "type": "string",
                    "description": "Rotate with overlap: logins NAME_a and NAME_b in group NAME, used alternately "
                    "(docs/providers/postgresql.md); without it a rotation ends the old password at once.",
                },
            },
        },
    },
}
GROUP_SCHEMA = {"type": "object", "additionalProperties": False, "properties": COMMON}


OBJECT_SECTIONS = (("schema", "schemas"), ("table", "tables"), ("sequence", "sequences"))


def grant_strings(grants: JSON) -> list[str]:
    """The canonical grant strings of a spec's `grants` mapping (one list, each object's prefix
    written once: this runs for every role of a desired state)."""
    found = [f"database:{ALIASES.get(p, p)}" for p in grants.get("database", ())]
    for on, section in OBJECT_SECTIONS:
        for target, privileges in (grants.get(section) or {}).items():
            prefix = f"{on}:{target}:"
            found += [prefix + ALIASES.get(p, p) for p in privileges]
    for table, by_privilege in (grants.get("columns") or {}).items():
        for privilege, columns in by_privilege.items():
            found += [f"column:{table}.{column}:{privilege}" for column in columns]
    for owner, schemas in (grants.get("default_privileges") or {}).items():
        for schema, by_type in schemas.items():
            for objects, privileges in by_type.items():
                prefix = f"default:{owner}.{schema}.{objects}:"
                found += [prefix + ALIASES.get(p, p) for p in privileges]
    return sorted(set(found))


def grants_spec(strings: list[str]) -> dict[str, Any]:
    """The shortest `grants` mapping for canonical grant strings (the inverse of `grant_strings`)."""
    spec: dict[str, Any] = {}
    for grant in strings:
        on, _, rest = grant.partition(":")
        target, _, privilege = rest.rpartition(":")
        if on == "database":
            spec.setdefault("database", []).append(privilege)
        elif on == "column":
            table, _, column = target.rpartition(".")
            spec.setdefault("columns", {}).setdefault(table, {}).setdefault(privilege, []).append(column)
        elif on == "default":
            owner, schema, objects = default_target(target)
            by_type = spec.setdefault("default_privileges", {}).setdefault(owner, {}).setdefault(schema, {})
            by_type.setdefault(objects, []).append(privilege)
        else:
            spec.setdefault(on + "s", {}).setdefault(target, []).append(privilege)
    return spec


def default_target(target: str) -> tuple[str, str, str]:
    """A default privilege's `OWNER.SCHEMA.OBJECTS` as (owner, schema, objects); a live schema's name may hold dots."""
    owner, _, rest = target.partition(".")
    schema, _, objects = rest.rpartition(".")
    return owner, schema, objects


def valid_until(value: Any) -> str | None:
    """A `valid_until` as an ISO 8601 UTC timestamp (a date means its midnight, UTC)."""
    if value in (None, "", "infinity"):
        return None
    when = value if isinstance(value, date) else datetime.fromisoformat(str(value))
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def _group(spec: JSON) -> dict[str, Any]:
    return {
        "member_of": sorted(set(spec.get("member_of", ()))),
        "attributes": sorted(set(spec.get("attributes", ()))),
        "grants": grant_strings(spec.get("grants") or {}),
    }


def _login(spec: JSON) -> dict[str, Any]:
    attributes = {
        **_group(spec),
        "connection_limit": int(spec.get("connection_limit", -1)),
        "valid_until": valid_until(spec.get("valid_until")),
        "rotation_overlap": overlap.duration(spec),  # None: one login role, immediate rotation
    }
    if attributes["rotation_overlap"] is not None:
        attributes["logins"] = list(overlap.SUFFIXES)  # NAME_a and NAME_b, both intact
    return attributes


def _group_export(attributes: JSON) -> dict[str, Any]:
    spec: dict[str, Any] = {key: list(attributes[key]) for key in ("member_of", "attributes") if attributes[key]}
    if attributes["grants"]:
        spec["grants"] = grants_spec(list(attributes["grants"]))
    return spec


def _login_export(attributes: JSON) -> dict[str, Any]:
    spec = _group_export(attributes)
    if attributes["connection_limit"] != -1:
        spec["connection_limit"] = attributes["connection_limit"]
    if attributes["valid_until"]:
        spec["valid_until"] = attributes["valid_until"]
    if attributes.get("rotation_overlap"):
        spec["password"] = {"rotation_overlap": attributes["rotation_overlap"]}
    return spec


def _grants(attributes: JSON) -> frozenset[str]:
    return frozenset([*attributes["grants"], *(f"role:{name}" for name in attributes["attributes"])])


GROUP_ROLES = Kind(
    name="group_roles",
    noun="group role",
    description="Group roles (NOLOGIN) by name: what their members may do.",
    schema=GROUP_SCHEMA,
    names=NAMES,
    name_hint=NAME_HINT,
    canonical=_group,
    export=_group_export,
    references={"member_of": "group_roles"},
    grants=_grants,
    key_order=("member_of", "attributes", "grants"),
)
LOGIN_ROLES = Kind(
    name="login_roles",
    noun="login role",
    description="Login roles (services, people) by name, with a password keyform generates.",
    schema=LOGIN_SCHEMA,
    names=NAMES,
    name_hint=NAME_HINT,
    canonical=_login,
    export=_login_export,
    references={"member_of": "group_roles"},
    grants=_grants,
    key_order=("member_of", "connection_limit", "valid_until", "attributes", "grants", "password"),
    secret=SecretSpec(
        source=SecretSource.KEYFORM,
        rotation=Rotation.OVERLAP,  # with password.rotation_overlap: two logins used alternately (overlap.py)
        max_live=2,
        noun="password",
        policy_path=("password",),
        alphabet=PASSWORD_ALPHABET,
        length=32,
        field_name="password",
    ),
)
KINDS = (GROUP_ROLES, LOGIN_ROLES)

TLS_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl")
OPTIONS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"const": "postgresql"},
        "dsn": {
            "type": "string",
            "description": "libpq connection string or URL: ${env:DATABASE_URL}; empty: the PG* variables.",
        },
        **{key: {"type": "string", "description": f"libpq {key}, passed through."} for key in TLS_OPTIONS},
        "connect_timeout": {"type": "integer", "minimum": 1, "description": "Seconds to wait for the server."},
        "sensitive_columns": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[a-z_][a-z0-9_$]*\\.[a-z_][a-z0-9_$]*\\.[a-z_][a-z0-9_$]*$"},
            "description": "schema.table.column: a new grant on one is an escalation.",
        },
        "reassign_owned_to": {
            "type": "string",
            "description": "Deleting a role that owns objects reassigns them to this role (else refused).",
        },
        "concurrency": {"type": "integer", "minimum": 1},
    },
}
