"""The `keystone` provider: OpenStack Keystone's projects, roles, users and application credentials.

Reads are cloud.py's (one listing per kind; credentials one listing per managed owner). Keystone
has no ETags, so staleness is decided by attributes: `apply()` compares what each change's plan
saw (`before`, the id, the live credential ids) with the live state: the plan's own read when
this provider made the plan, else one fresh read before the first change (a saved plan). A
mismatch is a StaleChangeError naming the attributes that moved.

keystoneauth1 is imported when a provider is constructed, not when this module is: `keyform
validate` and `keyform schema` know the kinds without the `keystone` extra.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    LiveResource,
    Provider,
    Risk,
    SecretInfo,
    StaleChangeError,
)
from keyform.errors import ProviderError
from keyform.providers.keystone import rules
from keyform.providers.keystone.kinds import KINDS, OPTIONS_SCHEMA

if TYPE_CHECKING:
    from keyform.plan.plan import Plan
    from keyform.providers.keystone.cloud import KeystoneCloud, LiveState
    from keyform.providers.keystone.verify import KeystoneVerifier

MISSING_EXTRA = "provider: keystone needs keystoneauth1: install it with pip install 'keyform[keystone]'"
SECRET_TYPE = "application_credential"
PUBLIC_FIELDS = ("application_credential_id", "auth_url")


def missing_extra(error: ImportError) -> bool:
    return (error.name or "").partition(".")[0] == "keystoneauth1"


def connect(options: Mapping[str, Any]) -> KeystoneCloud:
    """A KeystoneCloud for the options (nothing is sent yet)."""
    try:
        from keyform.providers.keystone.client import KeystoneClient
        from keyform.providers.keystone.cloud import KeystoneCloud
    except ImportError as error:
        if not missing_extra(error):
            raise
        raise ProviderError(MISSING_EXTRA) from None
    domains = tuple(options.get("domains") or ("Default",))
    return KeystoneCloud(KeystoneClient(options), domains)


def _resource(address: str, state: LiveState) -> LiveResource:
    secrets = tuple(SecretInfo(id, created) for id, created in state.secrets)
    return LiveResource(address, state.attributes, state.id, None, state.managed, secrets)


class KeystoneProvider(Provider):
    """Reads every kind in one listing each and applies one change per call."""

    kinds = KINDS

    def __init__(self, options: Mapping[str, Any]):
        self.cloud = connect(options)
        self._lock = threading.Lock()
        self._owner_locks: dict[str, threading.Lock] = {}
        self._live: dict[str, LiveState] | None = None  # the last read, kept current as changes apply
        self._services: set[str] | None = None
        self._identity: str | None = None

    def describe(self) -> str:
        return self.cloud.client.describe()

    def requests_sent(self) -> int:
        return self.cloud.client.requests_sent

    def identity(self) -> str | None:
        return self._identity

    def close(self) -> None:
        self.cloud.client.close()

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        return OPTIONS_SCHEMA

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        names = ("auth_url", "username", "password", "project_name", "user_domain_name", "project_domain_name")
        return {name: f"${{env:OS_{name.upper()}}}" for name in names}

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> KeystoneVerifier:
        try:
            from keyform.providers.keystone.verify import KeystoneVerifier
        except ImportError as error:
            if not missing_extra(error):
                raise
            raise ProviderError(MISSING_EXTRA) from None
        return KeystoneVerifier(options, session)

    # -- rules (rules.py) -----------------------------------------------------------------------

    def risks(self, change: Change) -> list[Risk]:
        return rules.risks(change)

    def rotation_risks(self, change: Change) -> list[Risk]:
        return rules.rotation_risks(change)

    def weakens(self, change: Change) -> str:
        return rules.weakens(change)

    def runs_last(self, change: Change) -> bool:
        return rules.runs_last(change)

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        return rules.check_document(data)

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        """An access rule for a service the catalog lacks: Keystone accepts it, and the credential reaches nothing."""
        changes = [c for c in plan.changes if c.kind == rules.CREDENTIALS and (c.after or {}).get("access_rules")]
        if not changes:
            return []
        services = self._catalog()
        problems = []
        for change in changes:
            for rule in (change.after or {})["access_rules"]:
                if rule["service"] not in services:
                    problems.append(
                        f"{change.address}: access rule for service {rule['service']!r}, which this cloud's catalog "
                        f"doesn't have (known: {', '.join(sorted(services))}): fix the service type"
                    )
                    break
        return problems

    def generates_secret(self, change: Change) -> bool:
        if change.kind != rules.CREDENTIALS:
            return False
        if change.action == Action.ROTATE:
            return change.details.get("phase") != "revoke"
        return change.action in rules.NEW_SECRET

    # -- read -----------------------------------------------------------------------------------

    def read(self) -> dict[str, LiveResource]:
        facts = self.cloud.client.authenticate()  # a refused login is one line naming the settings
        states = self.cloud.read_all()
        with self._lock:
            self._live = dict(states)
        user = next((name for name, id in self.cloud.index.users.items() if id == facts.user_id), None)
        self._identity = f"users/{user}" if user else None
        return {address: _resource(address, state) for address, state in states.items()}

    def _current(self) -> dict[str, LiveState]:
        """The live state changes are checked against: this provider's read, or a fresh one (a saved plan)."""
        with self._lock:
            if self._live is None:
                self._live = dict(self.cloud.read_all())
            return self._live

    def _catalog(self) -> set[str]:
        if self._services is None:
            self._services = self.cloud.services()
        return self._services

    # -- apply ----------------------------------------------------------------------------------

    def apply(self, change: Change) -> ApplyOutcome:
        live = self._current()
        current = live.get(change.address)
        if _already_done(change, current):
            return ApplyOutcome()
        moved = _moved(change, current)
        if moved:
            raise StaleChangeError(change.address, moved)
        handlers = {
            "projects": self._apply_project,
            "roles": self._apply_role,
            "users": self._apply_user,
            rules.CREDENTIALS: self._apply_credential,
        }
        outcome = handlers[change.kind](change, current)
        self._remember(change, current, outcome)
        return outcome

    def _remember(self, change: Change, current: LiveState | None, outcome: ApplyOutcome) -> None:
        """Keep the live state current: later changes (a credential's owner roles) are checked against it."""
        from keyform.providers.keystone.cloud import LiveState

        live = self._current()
        if change.action == Action.DELETE:
            live.pop(change.address, None)
            return
        secrets = current.secrets if current is not None else ()
        if outcome.secret is not None:
            new = (outcome.secret.secret_id, outcome.secret.created_at)
            keep = change.action == Action.ROTATE and change.details.get("phase") == "add"
            secrets = (*secrets, new) if keep else (new,)
        elif change.action == Action.ROTATE:  # revoke: the oldest one is gone
            secrets = tuple(s for s in secrets if s[0] != change.details.get("old_secret"))
        id = secrets[-1][0] if change.kind == rules.CREDENTIALS and secrets else self._id_of(change, current)
        attributes = {**(current.attributes if current else {}), **(change.after or {})}
        live[change.address] = LiveState(id=id, attributes=attributes, managed=True, secrets=secrets)

    def _id_of(self, change: Change, current: LiveState | None) -> str:
        table = {
            "projects": self.cloud.index.projects,
            "roles": self.cloud.index.roles,
            "users": self.cloud.index.users,
        }
        return table[change.kind].get(change.name) or (current.id if current else "")

    def _apply_project(self, change: Change, current: LiveState | None) -> ApplyOutcome:
        cloud, name, after = self.cloud, change.name, change.after or {}
        if change.action in (Action.DELETE, Action.REPLACE):
            cloud.delete_project(name)
        if change.action in (Action.CREATE, Action.REPLACE):
            cloud.create_project(name, after)
        elif change.action in (Action.UPDATE, Action.ADOPT):
            changed = {key: after[key] for key in change.changed_fields() if key in after}
            if change.action == Action.ADOPT:
                changed["tags"] = after.get("tags", [])  # with keyform's tag
            cloud.update_project(name, changed)
        return ApplyOutcome()

    def _apply_role(self, change: Change, current: LiveState | None) -> ApplyOutcome:
        cloud, name = self.cloud, change.name
        if change.action == Action.DELETE:
            cloud.delete_role(name)
        elif change.action == Action.CREATE:
            cloud.create_role(name, change.after or {})
        else:
            cloud.update_role(name, change.before or {}, change.after or {})
            if change.action == Action.ADOPT:
                role_id = cloud.index.id("roles", name, change.address)
                cloud.client.update("roles", "role", role_id, {"managed_by": "keyform"}, change.address)
        return ApplyOutcome()

    def _apply_user(self, change: Change, current: LiveState | None) -> ApplyOutcome:
        cloud, name = self.cloud, change.name
        if change.action in (Action.DELETE, Action.REPLACE):
            cloud.delete_user(name)
        if change.action in (Action.CREATE, Action.REPLACE):
            cloud.create_user(name, change.after or {})
        elif change.action in (Action.UPDATE, Action.ADOPT):
            cloud.update_user(name, change.before or {}, change.after or {})
            if change.action == Action.ADOPT:
                user_id = cloud.index.id("users", name, change.address)
                cloud.client.update("users", "user", user_id, {"managed_by": "keyform"}, change.address)
        return ApplyOutcome()

    def _apply_credential(self, change: Change, current: LiveState | None) -> ApplyOutcome:
        """Keystone can't change a credential: create a successor, then delete what it succeeds."""
        live_ids = [id for id, _ in current.secrets] if current is not None else []
        phase = change.details.get("phase")
        if change.action == Action.DELETE:
            self._delete_credentials(change.name, live_ids)
            return ApplyOutcome()
        if phase == "revoke":
            self._delete_credentials(change.name, [str(change.details["old_secret"])])
            return ApplyOutcome()
        secret = self._create_credential(change, current)
        if phase == "add":
            return ApplyOutcome(secret=secret)
        if phase == "reissue":
            live_ids = [str(id) for id in change.details.get("old_secrets") or live_ids]
        self._delete_credentials(change.name, [id for id in live_ids if id != secret.secret_id])
        return ApplyOutcome(secret=secret)

    def _create_credential(self, change: Change, current: LiveState | None) -> GeneratedSecret:
        after = change.after or {}
        owner = str(after["owner"])
        owner_state = self._current().get(f"users/{owner}")
        held = owner_state.attributes.get("projects", {}) if owner_state is not None else {}
        services = self._catalog() if after.get("access_rules") else set()
        with self._lock:
            lock = self._owner_locks.setdefault(owner, threading.Lock())
        with lock:  # one owner's password is set once, by one thread
            _next_second_after(current.secrets[-1][1] if current is not None and current.secrets else None)
            new, created_at = self.cloud.create_application_credential(change.name, after, held=held, services=services)
        fields = {
            "application_credential_id": new.id,
            "application_credential_secret": new.secret,
            "auth_url": self.cloud.client.url,
        }
        retiring = str(change.details.get("old_secret")) if change.details.get("phase") == "add" else None
        return GeneratedSecret(
            change.address, SECRET_TYPE, fields, new.id, created_at, retiring=retiring, public=PUBLIC_FIELDS
        )

    def _delete_credentials(self, name: str, ids: list[str]) -> None:
        for credential_id in ids:
            self.cloud.delete_application_credential(name, credential_id)


def _next_second_after(moment: datetime | None) -> None:
    """Credential names carry their creation second: a successor made in the same second would clash."""
    while moment is not None and datetime.now(UTC).replace(microsecond=0) <= moment:
        time.sleep(0.1)


def _already_done(change: Change, current: LiveState | None) -> bool:
    """A change whose effect is live already (a retried apply): nothing to do."""
    if change.action == Action.DELETE:
        return current is None
    if change.action == Action.ROTATE and change.details.get("phase") == "revoke":
        return current is not None and all(id != change.details.get("old_secret") for id, _ in current.secrets)
    if change.action == Action.UPDATE and current is not None and current.managed:
        after = change.after or {}
        return all(current.attributes.get(key) == value for key, value in after.items())
    return False


def _moved(change: Change, current: LiveState | None) -> str:
    """What moved since the plan ("" if nothing): compared attribute by attribute, Keystone has no ETags."""
    if change.action == Action.CREATE:
        return "it was created outside this plan: plan again to adopt or update it" if current is not None else ""
    if current is None:
        return "it was deleted outside this plan"
    if change.id and current.id != change.id:
        return "it was replaced outside this plan (its id changed)"
    before = change.before or {}
    moved = sorted(key for key, value in before.items() if current.attributes.get(key) != value)
    if moved:
        return f"{', '.join(moved)} changed"
    if change.action == Action.ROTATE and change.details.get("phase") in ("add", "immediate"):
        newest = current.secrets[-1][0] if current.secrets else None
        if newest != change.details.get("old_secret"):
            return "its application credential was rotated or replaced outside this plan"
    return ""
