"""The `keyform` provider: drives `keyform server` (the credential API in docs/credential-api.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keyform.catalog import REFERENCE_CATALOG, Catalog
from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    HeldLock,
    LiveResource,
    LockedError,
    Provider,
    SecretInfo,
    StaleChangeError,
)
from keyform.errors import ProviderError
from keyform.providers.http import ApiClient, ApiResponseError
from keyform.providers.keyform import rules
from keyform.providers.keyform.kinds import KINDS, canonical_permissions, options_schema
from keyform.providers.keyform.verify import KeyformVerifier
from keyform.providers.keyform_secrets import add_client_secret, issue_api_key, revoke_client_secret

if TYPE_CHECKING:
    pass

MANAGED_BY = "keyform"
USER_FIELDS = (
    "first_name",
    "last_name",
    "role",
    "roles",
    "job_title",
    "default_folder",
    "cognitive_access",
    "archived",
)
COLLECTIONS = {"roles": "/v1/roles", "users": "/v1/users", "credentials": "/v1/credentials"}


def parse_time(value: str) -> datetime:
    """An API timestamp (ISO 8601, `Z` for UTC: Python 3.11 reads it as is)."""
    return datetime.fromisoformat(value)


def role_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "description": item.get("description") or "",
        "permissions": canonical_permissions(item.get("permissions") or {}),
        "attributes": sorted(item.get("attributes") or ()),
    }


def user_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    attributes = {name: item.get(name) for name in USER_FIELDS}
    attributes["roles"] = sorted(item.get("roles") or ())
    attributes["job_title"] = item.get("job_title") or ""
    attributes["default_folder"] = item.get("default_folder") or ""
    key = item.get("api_key")
    attributes["api_key_enabled"] = key["enabled"] if key else None
    return attributes


def credential_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "integration": item.get("integration") or "",
        "enabled": item["enabled"],
        "roles": sorted(item.get("roles") or ()),
        "permissions": canonical_permissions(item.get("permissions") or {}),
        "attributes": sorted(item.get("attributes") or ()),
    }


def organization_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"api_access": item["api_access"]}


def _live(
    address: str, attributes: dict[str, Any], item: Mapping[str, Any], secrets: tuple[SecretInfo, ...] = ()
) -> LiveResource:
    """A live resource from one API item (id, etag, keyform's ownership marker)."""
    return LiveResource(address, attributes, item["id"], item["etag"], item.get("managed_by") == MANAGED_BY, secrets)


class KeyformProvider(rules.ServerRules, Provider):
    """Reads with one paginated listing per kind (concurrently) and applies one change per call."""

    kinds = KINDS

    def __init__(self, options: Mapping[str, Any]):
        missing = [key for key in ("url", "token") if not options.get(key)]
        if missing:
            raise ProviderError(f"provider: keyform needs {' and '.join(missing)} (e.g. url: ${{env:KEYFORM_URL}})")
        self.page_size = int(options.get("page_size", 1000))
        self.concurrency = int(options.get("concurrency", 4))
        self.client = ApiClient(
            str(options["url"]),
            str(options["token"]),
            timeout=float(options.get("timeout", 30)),
            pool_size=max(8, self.concurrency + 4),
        )
        self._identity: str | None = None

    def describe(self) -> str:
        return self.client.describe()

    def catalog(self) -> Catalog:
        return REFERENCE_CATALOG

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        return rules.catalog_problems(data)

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        return options_schema()

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> KeyformVerifier:
        return KeyformVerifier(options, session)

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        return {"url": "${env:KEYFORM_URL}", "token": "${env:KEYFORM_TOKEN}"}

    def identity(self) -> str | None:
        return self._identity

    def requests_sent(self) -> int:
        return self.client.sent

    def close(self) -> None:
        self.client.close()

    def generates_secret(self, change: Change) -> bool:
        if change.action == Action.ROTATE:
            return change.details.get("phase") != "revoke"
        if change.kind == "credentials":
            return change.action in (Action.CREATE, Action.REPLACE)
        if change.kind == "users" and change.action != Action.DELETE:
            return (change.before or {}).get("api_key_enabled") is None and (change.after or {}).get(
                "api_key_enabled"
            ) is not None
        return False

    # -- locks ----------------------------------------------------------------------------------

    def lock(self, owner: str, ttl_seconds: int) -> str | None:
        try:
            body = {"owner": owner, "ttl_seconds": ttl_seconds, "reason": "keyform apply"}
            lock_id: str = self.client.request_json("POST", "/v1/locks", what="lock", json=body)["id"]
            return lock_id
        except ApiResponseError as error:
            if error.status != 409:
                raise
            holder = self.client.request_json("GET", "/v1/locks", what="lock")["items"]
            current = holder[0] if holder else {}
            message = (
                f"another apply holds the organisation's lock: {current.get('owner', 'unknown')} since "
                f"{current.get('created_at', '?')} (expires {current.get('expires_at', '?')}); wait for it, "
                f"or if it is stuck run `keyform force-unlock {current.get('id', '?')}`"
            )
            raise LockedError(message, current.get("id", ""), current.get("owner", "")) from None

    def extend_lock(self, lock_id: str, ttl_seconds: int) -> None:
        self.client.request("PATCH", f"/v1/locks/{lock_id}", what="lock", json={"ttl_seconds": ttl_seconds})

    def unlock(self, lock_id: str) -> None:
        try:
            self.client.request("DELETE", f"/v1/locks/{lock_id}", what=f"lock {lock_id}")
        except ApiResponseError as error:
            if error.status != 404:
                raise
            raise ProviderError(
                f"no apply lock {lock_id} is held (it was released or expired): `keyform locks` lists the held locks"
            ) from None

    def locks(self) -> list[HeldLock]:
        items = self.client.request_json("GET", "/v1/locks", what="locks")["items"]
        return [
            HeldLock(id=item["id"], owner=item["owner"], since=item["created_at"], expires=item["expires_at"])
            for item in items
        ]

    # -- read -----------------------------------------------------------------------------------

    def read(self) -> dict[str, LiveResource]:
        readers: list[Callable[[], list[LiveResource]]] = [
            self._read_organization,
            self._read_roles,
            self._read_users,
            self._read_credentials,
            self._read_identity,
        ]
        with ThreadPoolExecutor(max_workers=len(readers), thread_name_prefix="keyform-read") as pool:
            batches = list(pool.map(lambda reader: reader(), readers))
        return {resource.address: resource for batch in batches for resource in batch}

    def _read_identity(self) -> list[LiveResource]:
        principal = self.client.request_json("GET", "/v1/whoami", what="whoami")["principal"]
        if principal.get("type") == "api_key":
            self._identity = f"users/{principal['name'].lower()}"
        return []

    def _read_organization(self) -> list[LiveResource]:
        body = self.client.request_json("GET", "/v1/organization", what="organization")
        return [
            LiveResource("organization", {"api_access": body["api_access"]}, body["id"], body["etag"], managed=True)
        ]

    def _read_roles(self) -> list[LiveResource]:
        return [
            _live(f"roles/{item['name']}", role_attributes(item), item)
            for item in self.client.paginate("/v1/roles", what="roles", page_size=self.page_size)
        ]

    def _read_users(self) -> list[LiveResource]:
        resources = []
        for item in self.client.paginate("/v1/users", what="users", page_size=self.page_size):
            key = item.get("api_key")
            secrets = (SecretInfo(key["id"], parse_time(key["created_at"])),) if key else ()
            address = f"users/{item['email'].lower()}"
            resources.append(_live(address, user_attributes(item), item, secrets))
        return resources

    def _read_credentials(self) -> list[LiveResource]:
        resources = []
        for item in self.client.paginate("/v1/credentials", what="credentials", page_size=self.page_size):
            secrets = [SecretInfo(s["id"], parse_time(s["created_at"])) for s in item.get("secrets") or ()]
            if len(secrets) > 1:  # oldest first (usually there is one)
                secrets.sort(key=lambda s: s.created_at)
            address = f"credentials/{item['name']}"
            resources.append(_live(address, credential_attributes(item), item, tuple(secrets)))
        return resources

    # -- apply ----------------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyOutcome:
        try:
            if change.kind == "organization":
                return self._patch(change, "/v1/organization", dict(change.after or {}))
            handler = {"roles": self._apply_role, "users": self._apply_user, "credentials": self._apply_credential}[
                change.kind
            ]
            return handler(change)
        except ApiResponseError as error:
            return self._settle(change, error)

    def release(self, change: Change) -> ApplyOutcome:
        """Forget: clear `managed_by`, leave everything else as it is."""
        path = f"{COLLECTIONS[change.kind]}/{change.id}"
        try:
            patched = self.client.request_json(
                "PATCH", path, what=change.address, json={"managed_by": None}, if_match=change.etag
            )
        except ApiResponseError as error:
            if error.status == 404:
                raise StaleChangeError(change.address, "it was deleted outside this plan") from None
            if error.status == 412:
                raise StaleChangeError(change.address, "it was modified since the plan") from None
            raise
        return ApplyOutcome(etag=patched.get("etag"))

    def _apply_role(self, change: Change) -> ApplyOutcome:
        if change.action == Action.CREATE:
            body = {"name": change.name, **(change.after or {}), "managed_by": MANAGED_BY}
            return self._created(change, "/v1/roles", body)
        if change.action == Action.DELETE:
            return self._delete(change, f"/v1/roles/{change.id}")
        return self._patch(change, f"/v1/roles/{change.id}", self._patch_body(change, change.changed_fields()))

    def _apply_user(self, change: Change) -> ApplyOutcome:
        after = dict(change.after or {})
        if change.action == Action.DELETE:
            return self._delete(change, f"/v1/users/{change.id}")
        if change.action == Action.ROTATE:
            return self._new_api_key(change, change.id, change.etag, retiring=None)
        if change.action == Action.CREATE:
            body = {"email": change.name, **{k: after[k] for k in USER_FIELDS if k in after}, "managed_by": MANAGED_BY}
            created = self.client.request_json("POST", "/v1/users", what=change.address, json=body)
            user_id, etag = created["id"], created["etag"]
            outcome = ApplyOutcome(etag=etag)
        else:
            fields = [f for f in change.changed_fields() if f != "api_key_enabled"]
            user_id = change.id
            outcome = self._patch(change, f"/v1/users/{user_id}", self._patch_body(change, fields))
        wanted, had = after.get("api_key_enabled"), (change.before or {}).get("api_key_enabled")
        if wanted is None or wanted == had:
            return outcome
        if had is None:  # no key yet: generate one (and disable it at once if so declared)
            outcome = self._new_api_key(change, user_id, outcome.etag, retiring=None)
            if wanted is False:
                self.client.request(
                    "PATCH", f"/v1/users/{user_id}/api-key", what=change.address, json={"enabled": False}
                )
            return outcome
        self.client.request("PATCH", f"/v1/users/{user_id}/api-key", what=change.address, json={"enabled": wanted})
        return ApplyOutcome(etag=self._etag(f"/v1/users/{user_id}", change.address))

    def _apply_credential(self, change: Change) -> ApplyOutcome:
        if change.action == Action.CREATE:
            body = {"name": change.name, **(change.after or {}), "managed_by": MANAGED_BY}
            created = self.client.request_json("POST", "/v1/credentials", what=change.address, json=body)
            if not created.get("client_secret"):  # a replayed create: the secret's only showing was lost
                heal = Change(Action.ROTATE, change.address, id=created["id"])
                return self._rotate_credential(heal, phase="immediate", old=created["secrets"][0]["id"])
            secret = GeneratedSecret(
                change.address,
                "client_credentials",
                {"client_id": created["client_id"], "client_secret": created["client_secret"]},
                created["secrets"][0]["id"],
                parse_time(created["created_at"]),
            )
            return ApplyOutcome(secret=secret, etag=created["etag"])
        if change.action == Action.DELETE:
            return self._delete(change, f"/v1/credentials/{change.id}")
        if change.action == Action.ROTATE:
            return self._rotate_credential(change)
        return self._patch(change, f"/v1/credentials/{change.id}", self._patch_body(change, change.changed_fields()))

    def _rotate_credential(self, change: Change, *, phase: str | None = None, old: str | None = None) -> ApplyOutcome:
        """Phases: add (keep the old secret for the overlap), immediate (add, then revoke the old one),
        revoke (end an overlap), reissue (a fresh secret, all others revoked)."""
        path, what = f"/v1/credentials/{change.id}", change.address
        phase, old = phase or change.details.get("phase"), old or change.details.get("old_secret")
        if_match = change.etag
        if phase == "reissue":
            return self._reissue_credential(change, path)
        if phase == "revoke" and old:
            self.client.request("DELETE", f"{path}/secrets/{old}", what=what, if_match=if_match)
            return ApplyOutcome(etag=self._etag(path, what))
        created = add_client_secret(self.client, path, what=what, if_match=if_match)
        if phase == "immediate" and old:
            revoke_client_secret(self.client, path, old, what=what)
        credential = self.client.request_json("GET", path, what=what)
        secret = GeneratedSecret(
            what,
            "client_credentials",
            {"client_id": credential["client_id"], "client_secret": created["client_secret"]},
            created["id"],
            parse_time(created["created_at"]),
            retiring=old if phase == "add" else None,
        )
        return ApplyOutcome(secret=secret, etag=credential["etag"])

    def _reissue_credential(self, change: Change, path: str) -> ApplyOutcome:
        """A fresh secret, every other live secret revoked (at most two are live, one must stay meanwhile)."""
        what, stale = change.address, list(change.details.get("old_secrets") or [change.details.get("old_secret")])
        for secret_id in stale[1:]:
            revoke_client_secret(self.client, path, secret_id, what=what)
        created = add_client_secret(self.client, path, what=what, if_match=None)
        revoke_client_secret(self.client, path, stale[0], what=what)
        credential = self.client.request_json("GET", path, what=what)
        fields = {"client_id": credential["client_id"], "client_secret": created["client_secret"]}
        secret = GeneratedSecret(what, "client_credentials", fields, created["id"], parse_time(created["created_at"]))
        return ApplyOutcome(secret=secret, etag=credential["etag"])

    def _take_over(self, change: Change) -> ApplyOutcome:
        """A create found the resource already there. Marked as keyform's, it can only be a late request
        of an earlier, interrupted apply (applies hold a lock): finish it, with a fresh secret nobody lost.
        Otherwise it was created outside this plan: stale."""
        collection = COLLECTIONS[change.kind]
        query = {"email": change.name} if change.kind == "users" else {"name": change.name}
        items = self.client.request_json("GET", collection, what=change.address, params=query)["items"]
        if not items or items[0].get("managed_by") != MANAGED_BY:
            raise StaleChangeError(change.address, "it was created outside this plan")
        item, after = items[0], dict(change.after or {})
        path = f"{collection}/{item['id']}"
        mapping = {"roles": role_attributes, "users": user_attributes, "credentials": credential_attributes}
        current = mapping[change.kind](item)
        fields = [k for k, v in after.items() if k != "api_key_enabled" and current.get(k) != v]
        if fields:
            self.client.request("PATCH", path, what=change.address, json={k: after[k] for k in fields})
        if change.kind == "credentials":
            stale = [secret["id"] for secret in item.get("secrets") or ()]
            heal = Change(Action.ROTATE, change.address, id=item["id"], details={"old_secrets": stale})
            return self._reissue_credential(heal, path)
        if change.kind == "users" and after.get("api_key_enabled") is not None:
            outcome = self._new_api_key(change, item["id"], None, retiring=None)
            if after["api_key_enabled"] is False:
                self.client.request("PATCH", f"{path}/api-key", what=change.address, json={"enabled": False})
            return outcome
        return ApplyOutcome(etag=self._etag(path, change.address))

    # -- helpers --------------------------------------------------------------------------------

    def _new_api_key(self, change: Change, user_id: str | None, etag: str | None, retiring: str | None) -> ApplyOutcome:
        path = f"/v1/users/{user_id}"
        key = issue_api_key(self.client, path, what=change.address, if_match=etag)
        secret = GeneratedSecret(
            change.address, "api_key", {"api_key": key["api_key"]}, key["id"], parse_time(key["created_at"]), retiring
        )
        return ApplyOutcome(secret=secret, etag=self._etag(path, change.address))

    def _patch_body(self, change: Change, fields: list[str]) -> dict[str, Any]:
        after = change.after or {}
        body = {name: after[name] for name in fields if name in after}
        if change.action == Action.ADOPT:
            body["managed_by"] = MANAGED_BY
        if change.details.get("moved_from"):  # a `moved:` rename: the same resource, a new name
            body["email" if change.kind == "users" else "name"] = change.name
        return body

    def _patch(self, change: Change, path: str, body: dict[str, Any]) -> ApplyOutcome:
        if not body:
            return ApplyOutcome(etag=change.etag)
        patched = self.client.request_json("PATCH", path, what=change.address, json=body, if_match=change.etag)
        return ApplyOutcome(etag=patched.get("etag"))

    def _created(self, change: Change, path: str, body: dict[str, Any]) -> ApplyOutcome:
        created = self.client.request_json("POST", path, what=change.address, json=body)
        return ApplyOutcome(etag=created.get("etag"))

    def _delete(self, change: Change, path: str) -> ApplyOutcome:
        try:
            self.client.request("DELETE", path, what=change.address, if_match=change.etag)
        except ApiResponseError as error:
            if error.status != 404:  # 404: gone already (a retried DELETE whose first answer was lost)
                raise
        return ApplyOutcome()

    def _etag(self, path: str, what: str) -> str | None:
        etag: str | None = self.client.request_json("GET", path, what=what).get("etag")
        return etag

    def _settle(self, change: Change, error: ApiResponseError) -> ApplyOutcome:
        """Decide what an error means: 412/404/409 are staleness, unless the resource already is as desired
        (a retried write whose first answer was lost); anything else is re-raised."""
        if change.action == Action.CREATE and error.status == 409:
            return self._take_over(change)
        if error.status == 404 and change.id:
            raise StaleChangeError(change.address, "it was deleted outside this plan") from None
        if error.status != 412 or (not change.id and change.kind != "organization"):
            raise error
        collection = COLLECTIONS.get(change.kind)
        path = f"{collection}/{change.id}" if collection else "/v1/organization"
        current = self.client.request_json("GET", path, what=change.address)
        attributes = {"roles": role_attributes, "users": user_attributes, "credentials": credential_attributes}.get(
            change.kind, organization_attributes
        )(current)
        after = change.after or {}
        owned = change.kind == "organization" or current.get("managed_by") == MANAGED_BY
        if (
            change.action in (Action.UPDATE, Action.ADOPT)
            and owned
            and all(attributes.get(k) == v for k, v in after.items())
        ):
            return ApplyOutcome(etag=current.get("etag"))
        before = change.before or {}
        moved = sorted(k for k in before if attributes.get(k) != before.get(k))
        what = f"{', '.join(moved)} changed" if moved else "it was modified (its secrets or unmanaged settings)"
        raise StaleChangeError(change.address, what) from None
