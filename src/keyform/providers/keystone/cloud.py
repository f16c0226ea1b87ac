"""A Keystone cloud in keyform's canonical form: `read_all()` by address, and writes by name.

Canonical attributes (what desired and live state are compared in):
- `projects/<name>`: domain, description, enabled, tags (sorted, without keyform's tag);
- `users/<name>`: domain, description, email, enabled, default_project, and `projects`: the
  roles the user holds directly on each project, `{project: [role, ...]}` (sorted);
- `roles/<name>`: description, implies (the roles it implies, sorted); not the roles Keystone
  marks immutable (bootstrap's admin, manager, member, reader, service), which it refuses to change;
- `application_credentials/<name>`: owner, project, roles, description, expires_at
  (`YYYY-MM-DDTHH:MM:SSZ` or None), unrestricted, access_rules (`{service, method, path}`, sorted).

Ownership: projects carry the tag `keyform-managed` (so `GET /v3/projects?tags=keyform-managed`
lists them); users and roles carry the extra attribute `managed_by: keyform`; application
credentials keyform created are named `<name>@<UTC creation time>`, which also gives each live
secret its creation time (Keystone reports none) and lets a successor live beside its
predecessor during a rotation overlap (names are unique per user).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from keyform.errors import ProviderError
from keyform.providers.keystone.canonical import access_rules, expiry, minimal_roles
from keyform.providers.keystone.client import KeystoneClient, NewApplicationCredential

MANAGED_TAG = "keyform-managed"
MANAGED_BY = "keyform"
STAMP = "%Y%m%dT%H%M%SZ"
CREDENTIAL_NAME = re.compile(r"^(?P<name>.+)@(?P<stamp>\d{8}T\d{6}Z)$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # creation time of a credential keyform didn't name


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveState:
    """One live resource: Keystone's id, canonical attributes, keyform's marker, live secrets (oldest first)."""

    id: str
    attributes: Mapping[str, Any]
    managed: bool
    secrets: tuple[tuple[str, datetime], ...] = ()


@dataclass
class Index:
    """Names and ids as the last read saw them (writes look names up here)."""

    domains: dict[str, str] = field(default_factory=dict)  # name -> id
    projects: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    implies: dict[str, set[str]] = field(default_factory=dict)  # role name -> roles it implies directly
    builtin: set[str] = field(default_factory=set)  # roles with Keystone's `immutable` option (bootstrap's)

    def id(self, kind: str, name: str, where: str) -> str:
        table: dict[str, str] = getattr(self, kind)
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise ProviderError(f"{where}: {kind[:-1]} {name!r} doesn't exist in Keystone (known: {known}): declare it")
        return table[name]


def stamp_name(name: str, created_at: datetime) -> str:
    return f"{name}@{created_at.astimezone(UTC).strftime(STAMP)}"


class KeystoneCloud:
    """Reads every kind in one listing each (credentials: one per managed owner) and writes by name."""

    def __init__(self, client: KeystoneClient, domains: tuple[str, ...] = ("Default",)):
        self.client = client
        self.domain_names = domains
        self.index = Index()
        self._owners: dict[str, str] = {}  # credential id -> owner id

    # -- read -----------------------------------------------------------------------------------

    def read_all(self) -> dict[str, LiveState]:
        c = self.client
        self.index = index = Index()
        domain_of = {d["id"]: d["name"] for d in c.listing("/domains", "domains", "domains")}
        index.domains = {name: id for id, name in domain_of.items() if name in self.domain_names}
        missing = [name for name in self.domain_names if name not in index.domains]
        if missing:
            raise ProviderError(f"provider.domains: Keystone has no domain {missing[0]!r}: fix provider.domains")
        projects = [p for p in c.listing("/projects", "projects", "projects") if p["domain_id"] in domain_of]
        projects = [p for p in projects if domain_of[p["domain_id"]] in self.domain_names and not p["is_domain"]]
        users = [u for u in c.listing("/users", "users", "users") if domain_of.get(u["domain_id"]) in self.domain_names]
        roles = [r for r in c.listing("/roles", "roles", "roles") if not r.get("domain_id")]
        inferences = c.listing("/role_inferences", "role_inferences", "implied roles")
        assignments = c.listing("/role_assignments", "role_assignments", "role assignments")
        index.projects = self._unique("projects", projects)
        index.users = self._unique("users", users)
        index.roles = self._unique("roles", roles)
        names = {"project": {p["id"]: p["name"] for p in projects}, "role": {r["id"]: r["name"] for r in roles}}

        live: dict[str, LiveState] = {}
        for project in projects:
            live[f"projects/{project['name']}"] = self._project(project, domain_of)
        implies: defaultdict[str, list[str]] = defaultdict(list)
        for inference in inferences:
            prior = inference["prior_role"]["name"]
            implies[prior] += [implied["name"] for implied in inference["implies"]]
        index.implies = {name: set(implied) for name, implied in implies.items()}
        index.builtin = {role["name"] for role in roles if (role.get("options") or {}).get("immutable")}
        for role in roles:
            if role["name"] in index.builtin:
                continue  # Keystone refuses to change or delete it: named by users and credentials, never managed
            attributes = {"description": role.get("description") or "", "implies": sorted(implies[role["name"]])}
            live[f"roles/{role['name']}"] = LiveState(
                id=role["id"], attributes=attributes, managed=role.get("managed_by") == MANAGED_BY
            )
        held = self._held(assignments, names)
        user_names = {u["id"]: u["name"] for u in users}
        for user in users:
            live[f"users/{user['name']}"] = self._user(user, domain_of, names["project"], held[user["id"]])
        for user in users:
            if user.get("managed_by") == MANAGED_BY:
                live.update(self._credentials(user, user_names, names))
        return live

    @staticmethod
    def _unique(kind: str, items: list[dict[str, Any]]) -> dict[str, str]:
        table: dict[str, str] = {}
        for item in items:
            if item["name"] in table:
                raise ProviderError(
                    f"{kind}/{item['name']}: two {kind} of that name in provider.domains: manage one domain at a time"
                )
            table[item["name"]] = item["id"]
        return table

    @staticmethod
    def _project(project: Mapping[str, Any], domain_of: Mapping[str, str]) -> LiveState:
        tags = project.get("tags") or []
        attributes = {
            "domain": domain_of[project["domain_id"]],
            "description": project.get("description") or "",
            "enabled": bool(project.get("enabled", True)),
            "tags": sorted(tag for tag in tags if tag != MANAGED_TAG),
        }
        return LiveState(id=project["id"], attributes=attributes, managed=MANAGED_TAG in tags)

    @staticmethod
    def _held(
        assignments: list[dict[str, Any]], names: Mapping[str, Mapping[str, str]]
    ) -> dict[str, dict[str, list[str]]]:
        """user id -> project name -> role names, from direct user-on-project assignments."""
        held: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for assignment in assignments:
            project = assignment.get("scope", {}).get("project", {}).get("id")
            user = assignment.get("user", {}).get("id")
            if user and project in names["project"] and "OS-INHERIT:inherited_to" not in assignment["scope"]:
                role = names["role"].get(assignment["role"]["id"])
                if role:
                    held[user][names["project"][project]].append(role)
        return held

    @staticmethod
    def _user(
        user: Mapping[str, Any],
        domain_of: Mapping[str, str],
        project_names: Mapping[str, str],
        held: Mapping[str, list[str]],
    ) -> LiveState:
        attributes = {
            "domain": domain_of[user["domain_id"]],
            "description": user.get("description") or "",
            "email": user.get("email") or "",
            "enabled": bool(user.get("enabled", True)),
            "default_project": project_names.get(user.get("default_project_id") or ""),
            "projects": {project: sorted(roles) for project, roles in sorted(held.items())},
        }
        return LiveState(id=user["id"], attributes=attributes, managed=user.get("managed_by") == MANAGED_BY)

    def _credentials(
        self, user: Mapping[str, Any], user_names: Mapping[str, str], names: Mapping[str, Mapping[str, str]]
    ) -> dict[str, LiveState]:
        items = self.client.listing(
            f"/users/{user['id']}/application_credentials", "application_credentials", f"users/{user['name']}"
        )
        by_name: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
        for item in items:
            match = CREDENTIAL_NAME.match(item["name"])
            name, created = (match["name"], _parse_stamp(match["stamp"])) if match else (item["name"], EPOCH)
            by_name[name].append((created, item))
            self._owners[item["id"]] = user["id"]
        live = {}
        for name, versions in by_name.items():
            versions.sort(key=lambda version: version[0])
            newest = versions[-1][1]
            attributes = {
                "owner": user_names[user["id"]],
                "project": names["project"].get(newest.get("project_id") or ""),
                "roles": minimal_roles({role["name"] for role in newest.get("roles") or ()}, self.index.implies),
                "description": newest.get("description") or "",
                "expires_at": expiry(newest.get("expires_at")),
                "unrestricted": bool(newest.get("unrestricted")),
                "access_rules": access_rules(newest.get("access_rules")),
            }
            secrets = tuple((item["id"], created) for created, item in versions)
            managed = CREDENTIAL_NAME.match(newest["name"]) is not None
            live[f"application_credentials/{name}"] = LiveState(
                id=newest["id"], attributes=attributes, managed=managed, secrets=secrets
            )
        return live

    def managed_projects(self) -> list[str]:
        """Names of the projects that carry keyform's tag (`?tags=` filters on the server)."""
        items = self.client.listing("/projects", "projects", "projects", params={"tags": MANAGED_TAG})
        return sorted(item["name"] for item in items)

    # -- writes ---------------------------------------------------------------------------------

    def create_project(self, name: str, attributes: Mapping[str, Any]) -> str:
        where = f"projects/{name}"
        body = {
            "name": name,
            "domain_id": self.index.id("domains", attributes.get("domain", "Default"), where),
            "description": attributes.get("description", ""),
            "enabled": attributes.get("enabled", True),
            "tags": [MANAGED_TAG, *attributes.get("tags", ())],
        }
        project = self.client.create("projects", "project", body, where)
        self.index.projects[name] = project["id"]
        return self.index.projects[name]

    def update_project(self, name: str, attributes: Mapping[str, Any]) -> None:
        where = f"projects/{name}"
        body = {key: attributes[key] for key in ("description", "enabled") if key in attributes}
        if "tags" in attributes:
            body["tags"] = [MANAGED_TAG, *attributes["tags"]]
        self.client.update("projects", "project", self.index.id("projects", name, where), body, where)

    def delete_project(self, name: str) -> None:
        where = f"projects/{name}"
        project_id = self.index.id("projects", name, where)
        self.client.delete("projects", project_id, where)
        del self.index.projects[name]

    def create_role(self, name: str, attributes: Mapping[str, Any]) -> str:
        where = f"roles/{name}"
        if name in self.index.builtin:
            raise ProviderError(
                f"{where}: one of Keystone's immutable roles, which keyform can't manage: remove it from roles: "
                "(users and application credentials may name it without declaring it)"
            )
        body = {"name": name, "description": attributes.get("description", ""), "managed_by": MANAGED_BY}
        role = self.client.create("roles", "role", body, where)
        self.index.roles[name] = role["id"]
        for implied in attributes.get("implies", ()):
            self.client.imply(role["id"], self.index.id("roles", implied, where), where)
        return self.index.roles[name]

    def update_role(self, name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        where = f"roles/{name}"
        role_id = self.index.id("roles", name, where)
        if before.get("description") != after.get("description"):
            self.client.update("roles", "role", role_id, {"description": after.get("description", "")}, where)
        old, new = set(before.get("implies", ())), set(after.get("implies", ()))
        for implied in sorted(new - old):
            self.client.imply(role_id, self.index.id("roles", implied, where), where)
        for implied in sorted(old - new):
            self.client.unimply(role_id, self.index.id("roles", implied, where), where)

    def delete_role(self, name: str) -> None:
        """Drop its implications first: on SQLite Keystone keeps them and `/v3/role_inferences` fails."""
        where = f"roles/{name}"
        role_id = self.index.id("roles", name, where)
        for prior, implied in sorted(self.index.implies.items()):
            if name in implied:
                self.client.unimply(self.index.id("roles", prior, where), role_id, where)
        for implied_name in sorted(self.index.implies.get(name, ())):
            self.client.unimply(role_id, self.index.id("roles", implied_name, where), where)
        self.client.delete("roles", role_id, where)
        del self.index.roles[name]

    def create_user(self, name: str, attributes: Mapping[str, Any]) -> str:
        """A service user without a usable password (keyform sets one-time ones to act as owner)."""
        where = f"users/{name}"
        body: dict[str, Any] = {
            "name": name,
            "domain_id": self.index.id("domains", attributes.get("domain", "Default"), where),
            "managed_by": MANAGED_BY,
            **self._user_fields(attributes, where),
        }
        user = self.client.create("users", "user", body, where)
        self.index.users[name] = user["id"]
        self._assign(name, {}, attributes.get("projects", {}))
        return self.index.users[name]

    def update_user(self, name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        where = f"users/{name}"
        changed = {key: value for key, value in after.items() if key != "projects" and before.get(key) != value}
        if changed:
            body = self._user_fields(changed, where)
            self.client.update("users", "user", self.index.id("users", name, where), body, where)
        self._assign(name, before.get("projects", {}), after.get("projects", {}))

    def delete_user(self, name: str) -> None:
        where = f"users/{name}"
        self.client.delete("users", self.index.id("users", name, where), where)
        del self.index.users[name]

    def _user_fields(self, attributes: Mapping[str, Any], where: str) -> dict[str, Any]:
        body = {key: attributes[key] for key in ("description", "email", "enabled") if key in attributes}
        if "default_project" in attributes:
            project = attributes["default_project"]
            body["default_project_id"] = self.index.id("projects", project, where) if project else None
        return body

    def _assign(self, name: str, before: Mapping[str, list[str]], after: Mapping[str, list[str]]) -> None:
        """Grant what `after` adds, then revoke what it drops (a reviewer's `projects:` map)."""
        where = f"users/{name}"
        user_id = self.index.id("users", name, where)
        pairs_before = {(p, r) for p, roles in before.items() for r in roles}
        pairs_after = {(p, r) for p, roles in after.items() for r in roles}
        for project, role in sorted(pairs_after - pairs_before):
            ids = self.index.id("projects", project, where), self.index.id("roles", role, where)
            self.client.grant(ids[0], user_id, ids[1], f"{where}: grant {role} on {project}")
        for project, role in sorted(pairs_before - pairs_after):
            ids = self.index.id("projects", project, where), self.index.id("roles", role, where)
            self.client.revoke(ids[0], user_id, ids[1], f"{where}: revoke {role} on {project}")

    def create_application_credential(
        self, name: str, attributes: Mapping[str, Any], *, held: Mapping[str, list[str]], services: set[str]
    ) -> tuple[NewApplicationCredential, datetime]:
        """Create one credential as its owner; check first what Keystone would refuse less clearly.

        `held` is the owner's live `projects` map and `services` the catalog's service types: a
        role the owner doesn't hold on the project, or an access rule for a service the cloud
        doesn't have (Keystone accepts it, and the credential can then reach nothing), stops here
        before anything changes.
        """
        where = f"application_credentials/{name}"
        owner, project = attributes["owner"], attributes["project"]
        owner_id = self.index.id("users", owner, where)
        project_id = self.index.id("projects", project, where)
        missing = sorted(set(attributes.get("roles", ())) - set(held.get(project, ())))
        if missing:
            raise ProviderError(
                f"{where}: owner users/{owner} doesn't hold {', '.join(missing)} on project {project}: "
                f"grant it in users.{owner}.projects.{project} or drop it from roles"
            )
        for rule in attributes.get("access_rules", ()):
            if rule["service"] not in services:
                known = ", ".join(sorted(services))
                raise ProviderError(
                    f"{where}: access rule for service {rule['service']!r}, which this cloud's catalog "
                    f"doesn't have (known: {known}): fix the service type"
                )
        created_at = datetime.now(UTC).replace(microsecond=0)
        body: dict[str, Any] = {
            "name": stamp_name(name, created_at),
            "description": attributes.get("description", ""),
            "unrestricted": bool(attributes.get("unrestricted", False)),
            "roles": [{"name": role} for role in attributes.get("roles", ())],
            "expires_at": attributes.get("expires_at"),
        }
        if attributes.get("access_rules"):
            body["access_rules"] = [dict(rule) for rule in attributes["access_rules"]]
        new = self.client.create_application_credential(
            user_id=owner_id, project_id=project_id, body={"application_credential": body}, what=where
        )
        self._owners[new.id] = owner_id
        return new, created_at

    def delete_application_credential(self, name: str, credential_id: str) -> None:
        where = f"application_credentials/{name}"
        owner_id = self._owners.get(credential_id)
        if owner_id is None:
            raise ProviderError(f"{where}: credential {credential_id} is not one the last read saw: plan again")
        self.client.delete_application_credential(owner_id, credential_id, where)

    def services(self) -> set[str]:
        """The service types in the catalog (access rules must name one)."""
        return {item["type"] for item in self.client.listing("/services", "services", "services")}


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
