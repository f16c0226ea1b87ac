"""The PostgreSQL provider: reads the catalog in a fixed number of queries, applies each change in its
own transaction, and sets keyform-generated passwords as SCRAM-SHA-256 verifiers.

Importing this module does not import psycopg: the kinds, the schema and `keyform validate` work
without it. Connecting (read, apply, verify) needs `pip install 'keyform[postgresql]'` and says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from keyform.contract import (
    JSON,
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    LiveResource,
    Provider,
    Risk,
    RiskCategory,
    SecretInfo,
    SecretVerifier,
)
from keyform.errors import ProviderError
from keyform.providers.postgresql import overlap
from keyform.providers.postgresql.kinds import KINDS, OPTIONS_SCHEMA, READ_PRIVILEGES, TLS_OPTIONS, default_target

if TYPE_CHECKING:
    from keyform.plan.plan import Plan
    from keyform.providers.postgresql.catalog import Catalog, Role
    from keyform.providers.postgresql.session import Session

INSTALL = "provider.type postgresql needs psycopg, which is not installed: pip install 'keyform[postgresql]'"
MARKER = "managed by keyform"


def connecting(module: str) -> ModuleType:
    """A module of this package that needs psycopg; one line naming the fix when psycopg is missing."""
    try:
        return importlib.import_module(f"keyform.providers.postgresql.{module}")
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] == "psycopg":
            raise ProviderError(INSTALL) from None
        raise


def connection_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg.connect's keyword arguments besides the DSN (TLS options passed through)."""
    values: dict[str, Any] = {key: str(options[key]) for key in TLS_OPTIONS if options.get(key)}
    values["connect_timeout"] = int(options.get("connect_timeout", 10))
    return values


class PostgresqlProvider(Provider):
    """Login roles, group roles and their grants in the database `provider.dsn` connects to."""

    kinds = KINDS

    def __init__(self, options: Mapping[str, Any]):
        self.dsn = str(options.get("dsn") or "")
        self.connect_options = connection_options(options)
        self.sensitive_columns = frozenset(options.get("sensitive_columns", ()))
        self.reassign_to = str(options["reassign_owned_to"]) if options.get("reassign_owned_to") else None
        self._session: Session | None = None
        self._catalog: Catalog | None = None

    # -- connection ---------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The open connection: psycopg is imported only here, so validate works without it."""
        if self._session is None:
            module = connecting("session")
            self._session = module.Session(self.dsn, self.connect_options)
        return self._session

    @classmethod
    def options_schema(cls) -> JSON:
        return OPTIONS_SCHEMA

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        return {"dsn": "${env:DATABASE_URL}"}

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> SecretVerifier:
        verifier: SecretVerifier = connecting("verify").PasswordVerifier(
            str(options.get("dsn") or ""), connection_options(options), options.get("sensitive_columns", ())
        )
        return verifier

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        problems: list[tuple[tuple[str | int, ...], str, bool]] = []
        for kind in ("login_roles", "group_roles"):
            for name in data.get(kind) or {}:
                if str(name).startswith("pg_"):
                    problems.append(((kind, name), "names starting with pg_ are reserved for PostgreSQL", True))
        return problems + overlap.check_document(data)

    def describe(self) -> str:
        return self.session.describe()

    def requests_sent(self) -> int:
        return self._session.sent if self._session is not None else 0

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- read ---------------------------------------------------------------------------------------

    def prepare_read(self) -> None:
        self.session  # noqa: B018 -- psycopg imported here, in the caller's thread, not the reading one

    def read(self) -> dict[str, LiveResource]:
        catalog = self.session.read()
        self._catalog = catalog
        live, halves = overlap.fold(catalog, _live)  # login roles with overlap: a group and two logins
        for role in catalog.roles.values():
            if role.name in halves:
                continue
            if role.is_self or ("SUPERUSER" in role.attributes and not role.comment.startswith(MARKER)):
                continue  # keyform's own role and unmanaged superusers are never touched
            resource = _live(role)
            live[resource.address] = resource
        return live

    def identity(self) -> str | None:
        if self._catalog is None:
            return None
        me = next((role for role in self._catalog.roles.values() if role.is_self), None)
        return None if me is None else f"{'login_roles' if me.login else 'group_roles'}/{me.name}"

    # -- apply --------------------------------------------------------------------------------------

    def generates_secret(self, change: Change) -> bool:
        if change.kind != "login_roles":
            return False
        if change.action == Action.ROTATE:
            return change.details.get("phase") != "revoke"
        return change.action in (Action.CREATE, Action.REPLACE) or bool(overlap.style_switch(change))

    def apply(self, change: Change) -> ApplyOutcome:
        if _overlapping(change):
            return self._apply_overlap(change)
        if change.action == Action.DELETE:
            self.session.delete(change, self.reassign_to)
            return ApplyOutcome()
        if change.action == Action.CREATE:
            self.session.create(change, None)
        else:  # update, adopt
            self.session.update(change)
        return ApplyOutcome(etag=self.session.etag(change.name))

    def apply_with_secret(self, change: Change, secret: GeneratedSecret) -> ApplyOutcome:
        if _overlapping(change) or overlap.style_switch(change):
            return self._set_overlap(change, secret)
        if change.action == Action.ROTATE:
            self.session.set_password(change, secret)
        else:  # create, replace
            if change.action == Action.REPLACE:
                self.session.delete(change, self.reassign_to)
            self.session.create(change, secret)
        return self._delivered(change, secret, change.name)

    def _delivered(self, change: Change, secret: GeneratedSecret, user: str) -> ApplyOutcome:
        """The secret with what libpq needs to log in as `user`, and the role's etag now."""
        fields = {**self.session.connection_fields(user), "password": secret.fields["password"]}
        public = ("host", "port", "dbname", "user")
        return ApplyOutcome(secret=replace(secret, fields=fields, public=public), etag=self.session.etag(change.name))

    # -- login roles with rotation overlap (overlap.py has the design) -------------------------------

    def _now(self, name: str) -> tuple[dict[str, tuple[str, list[str]]], str]:
        """The halves of `name` that exist now, and its current half (the group's etag, checked in the
        change's transaction, guards both since the plan)."""
        found = self.session.roles_now([name, *overlap.halves(name)])
        group = found.pop(name, None)
        return found, overlap.current_of(group[0] if group else None, name)

    def _apply_overlap(self, change: Change) -> ApplyOutcome:
        """Update, adopt, delete or the end of an overlap (revoke) of an overlap login role."""
        sql_of = connecting("overlap_sql")
        if change.action == Action.DELETE:
            self.session.delete(change, self.reassign_to, sql_of.drop_halves(change.name))
            return ApplyOutcome()
        found, current = self._now(change.name)
        if change.action == Action.ROTATE:  # phase revoke: the retiring half's password is cleared
            steps = sql_of.clear(change.name, overlap.other(change.name, current))
        else:
            steps = sql_of.update(change, self.session.connection.info.dbname, found, current)
        self.session.run(change, steps)
        return ApplyOutcome(etag=self.session.etag(change.name))

    def _set_overlap(self, change: Change, secret: GeneratedSecret) -> ApplyOutcome:
        """Create, replace, rotate or switch the rotation style of an overlap login role."""
        sql_of = connecting("overlap_sql")
        verifier = connecting("scram").verifier(secret.fields["password"])
        database = str(self.session.connection.info.dbname)
        switch = overlap.style_switch(change)
        if switch == "to-immediate":
            self.session.run(change, sql_of.to_immediate(change, database, secret, verifier))
            return self._delivered(change, secret, change.name)
        first = overlap.halves(change.name)[0]
        if switch == "to-overlap":
            self.session.run(change, sql_of.to_overlap(change, database, secret, verifier))
            return self._delivered(change, secret, first)
        if change.action == Action.ROTATE:
            current = self._now(change.name)[1]
            self.session.run(change, sql_of.rotate(change, current, secret, verifier))
            return self._delivered(change, secret, overlap.other(change.name, current))
        if change.action == Action.REPLACE:
            self.session.delete(change, self.reassign_to, sql_of.drop_halves(change.name))
        self.session.run(change, sql_of.create(change, database, secret, verifier))
        return self._delivered(change, secret, first)

    # -- risks and rules ----------------------------------------------------------------------------

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        """Role attributes and write privileges are escalations; read privileges are not (sensitive
        columns are flagged by `risks`, which knows the configuration)."""
        return grant.startswith("role:") or grant.rpartition(":")[2] not in READ_PRIVILEGES

    def risks(self, change: Change) -> list[Risk]:
        risks: list[Risk] = overlap.switch_risk(change)
        before, after = change.before or {}, change.after or {}
        owned = (self._catalog.owned if self._catalog else {}).get(change.name, [])
        if change.action in (Action.DELETE, Action.REPLACE) and owned and self.reassign_to:
            # without reassign_owned_to the plan is refused instead (invariants): nothing could apply it
            where = f"reassigned to {self.reassign_to} (provider.reassign_owned_to)"
            risks.append(Risk(RiskCategory.BREAKING, f"{change.address} {_owns(owned)}: {where}"))
        if change.action == Action.DELETE:
            return risks
        gained_attributes = sorted(set(after.get("attributes", ())) - set(before.get("attributes", ())))
        for attribute in gained_attributes:
            risks.append(Risk(RiskCategory.ESCALATION, f"{change.address}: gains role attribute {attribute}"))
        gained = set(after.get("grants", ())) - set(before.get("grants", ()))
        for grant in sorted(gained):
            on, _, rest = grant.partition(":")
            column = rest.rpartition(":")[0]
            if on == "column" and column in self.sensitive_columns:
                risks.append(Risk(RiskCategory.ESCALATION, f"{change.address}: gains sensitive column {column}"))
        return risks

    def rotation_risks(self, change: Change) -> list[Risk]:
        if _overlapping(change):
            group = self._catalog.roles.get(change.name) if self._catalog else None
            current = overlap.current_of(group.comment if group else None, change.name)
            return overlap.rotation_risks(change, current, (change.after or {}).get("valid_until"))
        old = change.details.get("old_secret", "the current one")
        message = (
            f"{change.address}: new password; the current one ({old}) stops working at once (one password per "
            "role); sessions already open stay connected"
        )
        return [Risk(RiskCategory.BREAKING, message)]

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        catalog = self._catalog
        if catalog is None:
            return []
        changes = [change for change in plan.changes if change.kind in ("login_roles", "group_roles")]
        problems = []
        me = next((role for role in catalog.roles.values() if role.is_self), None)
        if changes and me is not None and not {"SUPERUSER", "CREATEROLE"} & set(me.attributes):
            problems.append(
                f"keyform's role {me.name} lacks CREATEROLE and can't create, alter or drop roles: "
                f"ALTER ROLE {me.name} CREATEROLE (as a superuser), or connect as a role that has it"
            )
        for change in changes:
            problems += _missing_objects(change, catalog)
            problems += overlap.taken_names(change, catalog)
            if change.action in (Action.DELETE, Action.REPLACE):
                problems += self._drop_problems(change, catalog)
        return problems

    def _drop_problems(self, change: Change, catalog: Catalog) -> list[str]:
        """Why DROP ROLE would fail at apply, found at plan time: what the role owns or holds here
        (unless provider.reassign_owned_to hands it over), and anything in another database, which
        REASSIGN OWNED and DROP OWNED in this one can't reach."""
        owned = catalog.owned.get(change.name, [])
        elsewhere = catalog.elsewhere.get(change.name, [])
        if elsewhere:
            return [
                f"{change.address} owns objects or holds privileges in database {', '.join(elsewhere)}: DROP ROLE "
                f"would fail and keyform reaches only database {catalog.database}; there, run REASSIGN OWNED BY "
                f"{change.name} TO another_role; DROP OWNED BY {change.name}"
            ]
        if owned and not self.reassign_to:
            return [
                f"{change.address} {_owns(owned)}: DROP ROLE would fail; set provider.reassign_owned_to "
                "to a role that takes them over (REASSIGN OWNED, then DROP OWNED), or move them first"
            ]
        return []


def _overlapping(change: Change) -> bool:
    """Whether the change is to a login role that is (and stays) realised with two logins."""
    if change.kind != "login_roles" or overlap.style_switch(change):
        return False
    attributes = change.after if change.after is not None else change.before or {}
    return attributes.get("rotation_overlap") is not None


def _live(role: Role) -> LiveResource:
    kind = "login_roles" if role.login else "group_roles"
    attributes: dict[str, Any] = {
        "member_of": sorted(set(role.member_of)),
        "attributes": sorted(role.attributes),
        "grants": sorted(set(role.grants)),
    }
    if role.login:
        attributes["connection_limit"] = role.connection_limit
        valid = role.valid_until
        attributes["valid_until"] = None if valid is None or valid.year >= 9999 else valid.isoformat()
        attributes["rotation_overlap"] = None
    managed = role.comment.startswith(MARKER)
    return LiveResource(f"{kind}/{role.name}", attributes, role.name, role.etag, managed, _secrets(role))


def _secrets(role: Role) -> tuple[SecretInfo, ...]:
    """The live password's id and time, from the ownership marker (`...; password ID set TIME`)."""
    if not role.login or "; password " not in role.comment:
        return ()
    secret_id, _, created = role.comment.partition("; password ")[2].partition(" set ")
    try:
        return (SecretInfo(secret_id, datetime.fromisoformat(created)),)
    except ValueError:
        return ()


def _missing_objects(change: Change, catalog: Catalog) -> list[str]:
    """A grant on a schema, table, sequence or column that doesn't exist: one message each."""
    if change.action not in (Action.CREATE, Action.UPDATE, Action.ADOPT, Action.REPLACE):
        return []
    problems = []
    for grant in (change.after or {}).get("grants", ()):
        on, _, rest = grant.partition(":")
        target = rest.rpartition(":")[0]
        if on == "default":
            problems += _default_problems(change.address, target, catalog)
        elif on != "database" and (on, target) not in catalog.objects:
            what = {"column": "column", "schema": "schema"}.get(on, "table or view" if on == "table" else on)
            problems.append(
                f"{change.address}: grants on {what} {target}, which does not exist in database {catalog.database}: "
                "check the name in grants, or create it first"
            )
    return list(dict.fromkeys(problems))  # default privileges on tables and sequences name one schema twice


def _default_problems(address: str, target: str, catalog: Catalog) -> list[str]:
    """Default privileges for objects a role that does not exist creates, or in a schema that doesn't."""
    owner, schema, _ = default_target(target)
    problems = []
    if owner not in catalog.roles:
        problems.append(
            f"{address}: default privileges for objects role {owner} creates, but role {owner} does not exist: "
            "check the name in grants.default_privileges, or create it first"
        )
    if ("schema", schema) not in catalog.objects:
        problems.append(
            f"{address}: default privileges in schema {schema}, which does not exist in database {catalog.database}: "
            "check the name in grants.default_privileges, or create it first"
        )
    return problems


def _owns(owned: list[str]) -> str:
    """What a role owns ("owns table t"), or "owns or holds" when privileges keyform does not manage are listed."""
    verb = "owns or holds" if any(item.startswith("privileges on ") for item in owned) else "owns"
    return f"{verb} {_listed(owned)}"


def _listed(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
