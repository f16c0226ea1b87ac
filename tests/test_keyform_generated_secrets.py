"""Secrets keyform makes itself (SecretSource.KEYFORM) are in the sink before the system has them."""

from __future__ import annotations

import itertools
import string
from typing import Any

import pytest

from keyform.apply import FAILED, ApplyExecutor
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
    SecretSource,
    SecretSpec,
)
from keyform.errors import ProviderError, SecretSinkError
from keyform.model import DesiredState, PluginConfig
from keyform.plan.build import make_plan
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from tests.fakes import NOW

ALPHABET = string.ascii_letters + string.digits
LOGINS = Kind(
    name="logins",
    noun="login",
    secret=SecretSpec(
        source=SecretSource.KEYFORM, rotation=Rotation.IMMEDIATE, alphabet=ALPHABET, length=32, field_name="password"
    ),
)


class Database(Provider):
    """Logins whose password the client sets; records what the sink held when each password was set."""

    kinds = (LOGINS,)

    def __init__(self, sink: FileSink):
        self.sink = sink
        self.live: dict[str, LiveResource] = {}
        self.passwords: dict[str, str] = {}
        self.sink_when_set: list[dict[str, Any]] = []
        self.fail = False
        self.ids = itertools.count(1)

    def read(self) -> dict[str, LiveResource]:
        return dict(self.live)

    def generates_secret(self, change: Change) -> bool:
        return change.action in (Action.CREATE, Action.ROTATE, Action.REPLACE)

    def apply(self, change: Change) -> ApplyOutcome:
        self.live.pop(change.address)
        return ApplyOutcome()

    def apply_with_secret(self, change: Change, secret: GeneratedSecret) -> ApplyOutcome:
        self.sink_when_set.append(self.sink.read().get(change.address, {}))
        if self.fail:
            raise ProviderError(f"{change.address}: connection lost")
        self.passwords[change.address] = secret.fields["password"]
        info = SecretInfo(secret.secret_id, NOW)
        self.live[change.address] = LiveResource(change.address, {}, "id", f'"{next(self.ids)}"', True, (info,))
        return ApplyOutcome(etag=self.live[change.address].etag)


def desired(*names: str) -> DesiredState:
    declared, policies, _ = build_resources((LOGINS,), {"logins": {name: {} for name in names}})
    return DesiredState(PluginConfig("db"), kinds=(LOGINS,), declared=declared, secret_policies=policies)


def apply(provider: Database, sink: FileSink, replace: tuple[str, ...] = ()) -> Any:
    plan = make_plan(desired("app"), provider, now=NOW, replace=replace).plan
    return ApplyExecutor(provider, sink, Redactor()).execute(plan)


@pytest.fixture
def sink(tmp_path):
    return FileSink(tmp_path / "secrets.json")


def test_the_password_is_in_the_sink_pending_before_it_is_set_and_confirmed_after(sink):
    provider = Database(sink)
    report = apply(provider, sink)
    assert report.ok and report.results[0].secret_delivered
    [held] = provider.sink_when_set
    [pending] = held["pending"]
    assert pending["password"] == provider.passwords["logins/app"]
    assert sink.read()["logins/app"] == {**pending}  # confirmed: the same secret, no longer pending
    password = provider.passwords["logins/app"]
    assert len(password) == 32 and set(password) <= set(ALPHABET)


def test_a_rotation_keeps_the_live_password_in_the_sink_until_the_new_one_is_set(sink):
    provider = Database(sink)
    apply(provider, sink)
    old = provider.passwords["logins/app"]
    assert apply(provider, sink, replace=("logins/app",)).ok
    held = provider.sink_when_set[-1]
    assert held["password"] == old and held["pending"][0]["password"] == provider.passwords["logins/app"]
    entry = sink.read()["logins/app"]
    assert entry["password"] == provider.passwords["logins/app"] != old and "pending" not in entry


def test_a_failed_set_keeps_both_passwords_in_the_sink(sink):
    provider = Database(sink)
    apply(provider, sink)
    old = provider.passwords["logins/app"]
    provider.fail = True
    report = apply(provider, sink, replace=("logins/app",))
    assert [(r.status, r.message) for r in report.results] == [(FAILED, "logins/app: connection lost")]
    entry = sink.read()["logins/app"]
    assert entry["password"] == old and len(entry["pending"]) == 1  # whichever one is live, the sink has it
    provider.fail = False
    assert apply(provider, sink, replace=("logins/app",)).ok
    entry = sink.read()["logins/app"]
    assert entry["password"] == provider.passwords["logins/app"] and "pending" not in entry


def test_a_sink_that_refuses_the_write_ahead_leaves_the_system_untouched(sink):
    provider = Database(sink)

    class Broken(FileSink):
        def deliver(self, secret: GeneratedSecret) -> None:
            raise SecretSinkError("disk full")

    report = apply(provider, Broken(sink.path))
    assert [(r.status, r.message) for r in report.results] == [
        (FAILED, "not applied: its new secret could not be written to the sink first (disk full)")
    ]
    assert provider.live == {} and provider.sink_when_set == []


def test_a_weak_declared_alphabet_is_refused_before_anything_is_set(sink):
    weak = Kind(name="logins", secret=SecretSpec(source=SecretSource.KEYFORM, alphabet="01", length=20))

    class Weak(Database):
        kinds = (weak,)

    provider = Weak(sink)
    [result] = apply(provider, sink).results
    assert result.status == FAILED
    assert result.message == (
        "kind logins declares keyform-generated secrets of 20 characters from 2 distinct symbols (20 bits): the "
        "provider must declare at least 128 bits (a longer length or a larger alphabet)"
    )
    assert provider.live == {} and sink.read() == {}
