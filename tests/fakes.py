"""An in-memory provider for planner and executor tests (no HTTP)."""

from __future__ import annotations

import itertools
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from keyform.catalog import REFERENCE_CATALOG
from keyform.config.build import build_resources
from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    Kind,
    LiveResource,
    Provider,
    Rotation,
    SecretInfo,
    SecretSpec,
    StaleChangeError,
)
from keyform.errors import ProviderError
from keyform.model import DesiredState, PluginConfig
from keyform.providers.keyform import kinds as keyform_kinds
from keyform.providers.keyform import rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)

# An in-memory twin of the keyform server's four kinds, declared here: the engine must work from
# what a provider declares, whoever declares it. The canonical forms and rules are the server's.
FAKE_KINDS = (
    Kind(name="organization", singleton=True, canonical=keyform_kinds.organization_attributes),
    Kind(name="roles", noun="role", canonical=keyform_kinds.role_attributes, grants=keyform_kinds.own_grants),
    Kind(
        name="users",
        noun="user",
        key=str.lower,
        canonical=keyform_kinds.user_attributes,
        references={"roles": "roles"},
        secret=SecretSpec(rotation=Rotation.IMMEDIATE, noun="API key", policy_path=("api_key",), optional=True),
    ),
    Kind(
        name="credentials",
        noun="credential",
        canonical=keyform_kinds.credential_attributes,
        references={"roles": "roles"},
        secret=SecretSpec(rotation=Rotation.OVERLAP, max_live=2, noun="client secret"),
        grants=keyform_kinds.own_grants,
    ),
)


def state(*, kinds: tuple[Kind, ...] = FAKE_KINDS, **sections: Any) -> DesiredState:
    """A DesiredState with a dummy provider and the given sections of typed values
    (keyform.providers.keyform.model: Role, User, Credential, Organization), keyed by name."""
    provider = sections.pop("provider", PluginConfig("fake", {}))
    settings = {key: sections.pop(key) for key in ("secrets", "safety", "locations", "root") if key in sections}
    data: dict[str, Any] = {}
    for kind, values in sections.items():
        data[kind] = values.spec() if hasattr(values, "spec") else {name: v.spec() for name, v in values.items()}
    declared, policies, _ = build_resources(kinds, data)
    return DesiredState(provider, kinds=kinds, declared=declared, secret_policies=policies, **settings)


class FakeProvider(rules.ServerRules, Provider):
    """Live state in a dict; apply mutates it and hands out fresh secrets."""

    kinds = FAKE_KINDS

    def __init__(self, live: dict[str, LiveResource] | None = None, *, identity: str | None = None):
        self.live = dict(live or {})
        self.applied: list[Change] = []
        self.fail: dict[str, str] = {}  # address -> error message
        self.generated: list[GeneratedSecret] = []
        self._identity = identity
        self._ids = itertools.count(1)

    def read(self) -> dict[str, LiveResource]:
        return dict(self.live)

    def catalog(self):
        return REFERENCE_CATALOG

    def identity(self) -> str | None:
        return self._identity

    def describe(self) -> str:
        return "fake://test"

    def apply(self, change: Change) -> ApplyOutcome:
        if change.address in self.fail:
            raise ProviderError(self.fail[change.address])
        current = self.live.get(change.address)
        if change.etag is not None and current is not None and current.etag != change.etag:
            raise StaleChangeError(change.address, "etag moved")
        self.applied.append(change)
        etag = f'"{next(self._ids)}"'
        if change.action == Action.DELETE:
            del self.live[change.address]
            return ApplyOutcome()
        moved_from = change.details.get("moved_from")
        if moved_from and change.action in (Action.UPDATE, Action.ADOPT):  # a `moved:` rename in place
            current = self.live.pop(moved_from)
        secrets_ = current.secrets if current else ()
        secret = None
        needs_key = change.kind == "users" and (change.after or {}).get("api_key_enabled") is not None and not secrets_
        if (
            change.action == Action.ROTATE
            or (change.action == Action.CREATE and change.kind == "credentials")
            or needs_key
        ):
            secret = self._secret(change)
            secrets_ = (SecretInfo(secret.secret_id, NOW),)
        self.live[change.address] = LiveResource(
            change.address, dict(change.after or {}), change.id or f"id{next(self._ids)}", etag, True, secrets_
        )
        return ApplyOutcome(secret=secret, etag=etag)

    def _secret(self, change: Change) -> GeneratedSecret:
        if change.kind == "users":
            fields = {"api_key": "kfk_" + secrets.token_urlsafe(30)}
            kind = "api_key"
        else:
            fields = {"client_id": "kfc_" + secrets.token_hex(8), "client_secret": "kfs_" + secrets.token_urlsafe(30)}
            kind = "client_credentials"
        secret = GeneratedSecret(change.address, kind, fields, f"sec{next(self._ids)}", NOW)
        self.generated.append(secret)
        return secret


def live(
    address: str, attributes: dict[str, Any], *, managed: bool = True, etag: str = '"1"', secrets_=()
) -> LiveResource:
    return LiveResource(address, attributes, id=f"id-{address}", etag=etag, managed=managed, secrets=tuple(secrets_))


def break_fsync(monkeypatch: Any, errno: int, message: str) -> None:
    """Make every fsync keyform's durable appends take fail with OSError(errno, message)."""
    from keyform import durable

    def failing(fd: int) -> None:
        raise OSError(errno, message)

    monkeypatch.setattr(durable.os, "fsync", failing)


def buffered_environment() -> dict[str, str]:
    """This process's environment without PYTHONUNBUFFERED: a child's stdout is buffered, as for users."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
