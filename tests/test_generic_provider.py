"""The engine works from what a provider declares: a system with kinds of its own (groups and
service accounts, not users/roles/credentials) validates, plans, orders and applies."""

from __future__ import annotations

import itertools
from datetime import timedelta

from keyform.apply import APPLIED, SKIPPED, ApplyExecutor
from keyform.config.build import build_resources
from keyform.config.document import Document
from keyform.config.semantics import check
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
)
from keyform.errors import ProviderError
from keyform.model import DesiredState, PluginConfig
from keyform.plan.build import make_plan
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from tests.fakes import NOW

GROUPS = Kind(
    name="groups",
    noun="group",
    canonical=lambda spec: {"scopes": sorted(spec.get("scopes", []))},
    grants=lambda attributes: frozenset(attributes["scopes"]),
)
ACCOUNTS = Kind(
    name="service_accounts",
    noun="service account",
    key=str.lower,
    canonical=lambda spec: {"group": spec["group"]},
    references={"group": "groups"},
    secret=SecretSpec(rotation=Rotation.OVERLAP, max_live=2, noun="token"),
)


class Vault(Provider):
    kinds = (ACCOUNTS, GROUPS)  # declared referencing kind first: the order comes from references

    def __init__(self, live=None):
        self.live = dict(live or {})
        self.fail: set[str] = set()
        self.ids = itertools.count(1)

    def read(self):
        return dict(self.live)

    def apply(self, change: Change) -> ApplyOutcome:
        if change.address in self.fail:
            raise ProviderError(f"{change.address}: refused")
        if change.action == Action.DELETE:
            del self.live[change.address]
            return ApplyOutcome()
        secret = None
        if change.kind == "service_accounts" and change.action in (Action.CREATE, Action.ROTATE):
            secret = GeneratedSecret(change.address, "token", {"token": f"tok-{next(self.ids)}"}, "s1", NOW, public=())
        self.live[change.address] = LiveResource(change.address, dict(change.after or {}), "id", '"1"', True)
        return ApplyOutcome(secret=secret)

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        return grant.endswith(":admin")


def desired(data) -> DesiredState:
    declared, policies, _ = build_resources(Vault.kinds, data)
    return DesiredState(PluginConfig("vault"), kinds=Vault.kinds, declared=declared, secret_policies=policies)


def test_a_reference_to_an_undeclared_resource_is_named_with_a_suggestion():
    data = {"groups": {"ops": {}}, "service_accounts": {"ci": {"group": "opz"}}}
    problems = check(Document(path=None, display="k.yaml", data=data), Vault.kinds, provider=Vault)
    assert [p.message for p in problems] == ["service_accounts.ci: unknown group 'opz' (did you mean 'ops'?)"]


def test_creates_follow_references_deletes_run_in_reverse_and_grants_gained_are_risks():
    live = {
        "groups/old": LiveResource("groups/old", {"scopes": []}, "g", '"1"', True),
        "service_accounts/gone": LiveResource("service_accounts/gone", {"group": "old"}, "a", '"1"', True),
    }
    state = desired(
        {"groups": {"ops": {"scopes": ["db:admin", "db:read"]}}, "service_accounts": {"CI": {"group": "ops"}}}
    )
    plan = make_plan(state, Vault(live), now=NOW).plan
    assert [(c.action.value, c.address) for c in plan.changes] == [
        ("create", "groups/ops"),
        ("create", "service_accounts/ci"),
        ("delete", "service_accounts/gone"),
        ("delete", "groups/old"),
    ]
    create_group = plan.changes[0]
    assert [r.message for r in create_group.risks] == ["groups/ops (held by 1: service_accounts/ci) gains db:admin"]


def test_overlap_rotation_follows_the_declared_policy():
    state = desired(
        {
            "groups": {"ops": {}},
            "service_accounts": {"ci": {"group": "ops", "rotate_after": "30d", "rotation_overlap": "1d"}},
        }
    )
    old = SecretInfo("s0", NOW - timedelta(days=40))
    live = {
        "groups/ops": LiveResource("groups/ops", {"scopes": []}, "g", '"1"', True),
        "service_accounts/ci": LiveResource("service_accounts/ci", {"group": "ops"}, "a", '"1"', True, (old,)),
    }
    [rotate] = make_plan(state, Vault(live), now=NOW).plan.changes
    assert (rotate.action, rotate.details["phase"], rotate.details["overlap"]) == (Action.ROTATE, "add", "1d")


def test_a_failed_referenced_create_skips_its_dependents_and_secrets_reach_the_sink(tmp_path):
    state = desired(
        {"groups": {"ops": {}, "dev": {}}, "service_accounts": {"a": {"group": "ops"}, "b": {"group": "dev"}}}
    )
    provider = Vault()
    provider.fail.add("groups/ops")
    plan = make_plan(state, provider, now=NOW).plan
    sink = tmp_path / "secrets.json"
    report = ApplyExecutor(provider, FileSink(sink), Redactor()).execute(plan)
    status = {r.change.address: (r.status, r.message) for r in report.results}
    assert status["service_accounts/a"] == (SKIPPED, "depends on groups/ops, which did not apply")
    assert status["service_accounts/b"][0] == APPLIED
    assert "service_accounts/b" in sink.read_text()
