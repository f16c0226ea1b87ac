"""The live state in five catalog queries, whatever the number of roles and objects.

One read-only, repeatable-read transaction: roles with their comments (pg_roles,
pg_shdescription), memberships (pg_auth_members), every privilege in the connected database
(aclexplode over pg_database, pg_namespace, pg_class, pg_attribute and the per-schema default
privileges of pg_default_acl), the schemas, tables and columns that exist, and what each role owns
(pg_shdepend). Never a query per role or per object. A role's etag (what a plan saw of it: its
attributes, comment and memberships; grants are idempotent) is computed by the same joins when
one change checks it before it applies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keyform.providers.postgresql.kinds import ATTRIBUTES

SYSTEM_SCHEMA = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
ETAG = """md5(concat_ws('|', r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
    r.rolreplication, r.rolconnlimit, r.rolvaliduntil, s.description, m.names))"""  # what a plan saw of a role
ROLE_FROM = """pg_roles r LEFT JOIN pg_shdescription s ON s.objoid = r.oid AND s.classoid = 'pg_authid'::regclass
LEFT JOIN (SELECT a.member, string_agg(g.rolname, ',' ORDER BY g.rolname) AS names
           FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid GROUP BY a.member) m ON m.member = r.oid"""
# comments and memberships joined once, not shobj_description() and a subquery per role (bench/README.md)
ROLE_ETAG = f"SELECT {ETAG} FROM {ROLE_FROM} WHERE r.rolname = %s"
ROLES = f"""
SELECT r.oid, r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
       r.rolreplication, r.rolconnlimit, NULLIF(r.rolvaliduntil, 'infinity'), s.description,
       r.rolname = current_user, {ETAG}
FROM {ROLE_FROM} WHERE r.rolname !~ '^pg_'
"""
MEMBERSHIPS = """
SELECT m.rolname, g.rolname FROM pg_auth_members a
JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid
"""
PRIVILEGES = f"""
SELECT 'database', '', a.grantee, a.privilege_type
FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database() AND a.grantee <> d.datdba
UNION ALL
SELECT 'schema', n.nspname, a.grantee, a.privilege_type
FROM pg_namespace n, aclexplode(n.nspacl) a WHERE {SYSTEM_SCHEMA} AND a.grantee <> n.nspowner
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname || '.' || c.relname, a.grantee,
       a.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S') AND {SYSTEM_SCHEMA} AND a.grantee <> c.relowner
UNION ALL
SELECT 'column', n.nspname || '.' || c.relname || '.' || t.attname, a.grantee, a.privilege_type
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     aclexplode(t.attacl) a
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND {SYSTEM_SCHEMA} AND a.grantee <> c.relowner
UNION ALL
SELECT 'default', o.rolname || '.' || n.nspname || '.' || CASE d.defaclobjtype WHEN 'r' THEN 'tables'
       WHEN 'S' THEN 'sequences' ELSE 'functions' END, a.grantee, a.privilege_type
FROM pg_default_acl d JOIN pg_roles o ON o.oid = d.defaclrole JOIN pg_namespace n ON n.oid = d.defaclnamespace,
     aclexplode(d.defaclacl) a
WHERE d.defaclobjtype IN ('r', 'S', 'f') AND a.grantee <> d.defaclrole
"""
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
OWNED = """
SELECT r.rolname, d.deptype, db.datname,
       CASE WHEN d.dbid IN (0, here.oid) THEN pg_describe_object(d.classid, d.objid, d.objsubid) END
FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid LEFT JOIN pg_database db ON db.oid = d.dbid,
     (SELECT oid FROM pg_database WHERE datname = current_database()) here
WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname !~ '^pg_'
  AND (d.deptype = 'o' OR d.deptype = 'a' AND NOT (
       d.dbid = here.oid AND d.classid IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_default_acl'::regclass)
       OR d.classid = 'pg_database'::regclass AND d.objid = here.oid))
"""  # what stops DROP ROLE: objects owned, and privileges besides those keyform reads (and so revokes)
QUERIES = (ROLES, MEMBERSHIPS, PRIVILEGES, OBJECTS, OWNED)


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
        rows = {name: cursor.execute(query).fetchall() for name, query in zip("rmpoz", QUERIES, strict=True)}
    roles: dict[str, Role] = {}
    by_oid: dict[int, Role] = {}
    for oid, name, login, *flags, limit, until, comment, is_self, etag in rows["r"]:
        held = [attribute for attribute, on in zip(ATTRIBUTES, flags, strict=True) if on]
        role = Role(name, login, held, limit, until, comment or "", is_self, etag)
        roles[name] = by_oid[oid] = role
    for member, group in rows["m"]:
        if member in roles:
            roles[member].member_of.append(group)
    for on, target, grantee, privilege in rows["p"]:
        if grantee in by_oid:
            grant = f"database:{privilege}" if on == "database" else f"{on}:{target}:{privilege}"
            by_oid[grantee].grants.append(grant)
    owned: dict[str, list[str]] = defaultdict(list)
    elsewhere: dict[str, set[str]] = defaultdict(set)
    for role_name, deptype, database, description in rows["z"]:
        if description is None:
            elsewhere[role_name].add(database or "?")
        else:
            owned[role_name].append(description if deptype == "o" else f"privileges on {description}")
    objects = {(on, name) for on, name in rows["o"]}
    away = {role: sorted(databases) for role, databases in elsewhere.items()}
    return Catalog(roles, objects, dict(owned), conn.info.dbname, away)
