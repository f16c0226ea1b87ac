"""The live state in three catalog queries, whatever the number of roles and objects.

One read-only, repeatable-read transaction: every role with its attributes, comment (pg_roles,
pg_shdescription), memberships (pg_auth_members) and every privilege it holds in the connected
database (aclexplode over pg_database, pg_namespace, pg_class, pg_attribute and the per-schema
default privileges of pg_default_acl), aggregated in PostgreSQL into one row per role with its
grants already written as the provider's `on:object:PRIVILEGE` strings; then the schemas, tables
and columns that exist, and what each role owns (pg_shdepend). Never a query per role or per
object. A role's etag (what a plan saw of it: its attributes, comment and memberships; grants are
idempotent) is computed by the same expressions when one change checks it before it applies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keyform.providers.postgresql.kinds import ATTRIBUTES

SYSTEM_SCHEMA = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
HERE = "(SELECT oid FROM pg_database WHERE datname = current_database())"  # evaluated once per query
COMMENT = "(SELECT s.description FROM pg_shdescription s WHERE s.objoid = r.oid AND s.classoid = 'pg_authid'::regclass)"
# a subquery per role on pg_shdescription's index: a join may become a nested loop over every comment
# when the shared catalogs' statistics are stale (a freshly seeded cluster), quadratic in roles
ETAG = f"""md5(concat_ws('|', r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
    r.rolreplication, r.rolconnlimit, r.rolvaliduntil, {COMMENT}, m.names))"""  # what a plan saw of a role
MEMBER_OF = """(SELECT a.member, string_agg(DISTINCT g.rolname, ',' ORDER BY g.rolname) AS names,
                  array_agg(DISTINCT g.rolname ORDER BY g.rolname) AS groups
           FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid GROUP BY a.member) m"""
# DISTINCT: PostgreSQL 16 and later keep one pg_auth_members row per grantor of a membership
ROLE_ETAG = f"SELECT {ETAG} FROM pg_roles r LEFT JOIN {MEMBER_OF} ON m.member = r.oid WHERE r.rolname = %s"


def _explode(acl: str) -> str:
    """aclexplode over `acl`, detoasted once: on a large ACL kept out of line (a database that
    every role may connect to) aclexplode detoasts its argument again for every row it returns,
    quadratic; `|| '{}'` hands it a detoasted copy instead (not for NULL, the default privileges:
    NULL || '{}' is an empty array without dimensions, which aclexplode refuses)."""
    return f"aclexplode(CASE WHEN {acl} IS NOT NULL THEN {acl} || '{{}}'::aclitem[] END)"


GRANTS = f"""
SELECT a.grantee, 'database:' || a.privilege_type
FROM pg_database d, {_explode("d.datacl")} a WHERE d.datname = current_database() AND a.grantee <> d.datdba
UNION ALL
SELECT a.grantee, 'schema:' || n.nspname || ':' || a.privilege_type
FROM pg_namespace n, {_explode("n.nspacl")} a WHERE {SYSTEM_SCHEMA} AND a.grantee <> n.nspowner
UNION ALL
SELECT a.grantee, CASE c.relkind WHEN 'S' THEN 'sequence:' ELSE 'table:' END || n.nspname || '.' || c.relname
       || ':' || a.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, {_explode("c.relacl")} a
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S') AND {SYSTEM_SCHEMA} AND a.grantee <> c.relowner
UNION ALL
SELECT a.grantee, 'column:' || n.nspname || '.' || c.relname || '.' || t.attname || ':' || a.privilege_type
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     {_explode("t.attacl")} a
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND {SYSTEM_SCHEMA} AND a.grantee <> c.relowner
UNION ALL
SELECT a.grantee, 'default:' || o.rolname || '.' || n.nspname || '.' || CASE d.defaclobjtype WHEN 'r' THEN 'tables'
       WHEN 'S' THEN 'sequences' ELSE 'functions' END || ':' || a.privilege_type
FROM pg_default_acl d JOIN pg_roles o ON o.oid = d.defaclrole JOIN pg_namespace n ON n.oid = d.defaclnamespace,
     {_explode("d.defaclacl")} a
WHERE d.defaclobjtype IN ('r', 'S', 'f') AND a.grantee <> d.defaclrole
"""  # (grantee, grant as `on:object:PRIVILEGE`), the strings kinds.grant_strings makes of a spec
ROLES = f"""
SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
       r.rolreplication, r.rolconnlimit, NULLIF(r.rolvaliduntil, 'infinity'), {COMMENT},
       r.rolname = current_user, {ETAG}, m.groups, p.grants
FROM pg_roles r LEFT JOIN {MEMBER_OF} ON m.member = r.oid
LEFT JOIN (SELECT grantee, array_agg(on_object) AS grants FROM ({GRANTS}) g (grantee, on_object) GROUP BY grantee) p
       ON p.grantee = r.oid
WHERE r.rolname !~ '^pg_'
"""  # one row per role, not one per grant: PostgreSQL builds the strings and the lists
OBJECTS = f"""
SELECT 'schema', n.nspname FROM pg_namespace n WHERE {SYSTEM_SCHEMA}
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S') AND {SYSTEM_SCHEMA}
UNION ALL
SELECT 'column', n.nspname || '.' || c.relname || '.' || t.attname
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND t.attnum > 0 AND NOT t.attisdropped AND {SYSTEM_SCHEMA}
"""
OWNED = f"""
SELECT r.rolname, d.deptype, db.datname,
       CASE WHEN d.dbid IN (0, {HERE}) THEN pg_describe_object(d.classid, d.objid, d.objsubid) END
FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid LEFT JOIN pg_database db ON db.oid = d.dbid
WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname !~ '^pg_'
  AND (d.deptype = 'o' OR d.deptype = 'a' AND NOT (
       d.dbid = {HERE} AND d.classid IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_default_acl'::regclass)
       OR d.classid = 'pg_database'::regclass AND d.objid = {HERE}))
"""  # what stops DROP ROLE: objects owned, and privileges besides those keyform reads (and so revokes);
# HERE as a value, not a join: a join made every pg_shdepend row look up pg_database
QUERIES = (ROLES, OBJECTS, OWNED)


@dataclass(slots=True)
class Role:
    """One role as the catalog has it."""

    name: str
    login: bool
    attributes: list[str]
    connection_limit: int
    valid_until: datetime | None
    comment: str
    is_self: bool
    etag: str
    member_of: list[str] = field(default_factory=list)
    grants: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Catalog:
    """Everything one read found."""

    roles: dict[str, Role]
    objects: set[tuple[str, str]]  # (schema | table | sequence | column, qualified name)
    owned: dict[str, list[str]]  # role -> what it owns or holds here, which REASSIGN / DROP OWNED take care of
    database: str
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # role -> other databases it owns or holds in


def read(conn: Any) -> Catalog:
    """The catalog through `conn` (an autocommit psycopg connection), in len(QUERIES) queries."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        role_rows, object_rows, owned_rows = [cursor.execute(query).fetchall() for query in QUERIES]
    roles: dict[str, Role] = {}
    for name, login, *flags, limit, until, comment, is_self, etag, groups, grants in role_rows:
        held = [attribute for attribute, on in zip(ATTRIBUTES, flags, strict=True) if on]
        roles[name] = Role(name, login, held, limit, until, comment or "", is_self, etag, groups or [], grants or [])
    owned: dict[str, list[str]] = defaultdict(list)
    elsewhere: dict[str, set[str]] = defaultdict(set)
    for role_name, deptype, database, description in owned_rows:
        if description is None:
            elsewhere[role_name].add(database or "?")
        else:
            owned[role_name].append(description if deptype == "o" else f"privileges on {description}")
    objects = {(on, name) for on, name in object_rows}
    away = {role: sorted(databases) for role, databases in elsewhere.items()}
    return Catalog(roles, objects, dict(owned), conn.info.dbname, away)
