"""`moved:` entries through the planner and the executor, with the in-memory provider: a kind
that can't be renamed is replaced (and says why), one that can is renamed in place."""

from __future__ import annotations

import dataclasses
import json

from keyform.apply import APPLIED, FAILED, ApplyExecutor
from keyform.contract import Action, RiskCategory
from keyform.model import Move
from keyform.plan.build import make_plan
from keyform.providers.keyform.model import Credential
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from tests.fakes import FAKE_KINDS, NOW, FakeProvider, live, state

MOVE = (Move(source="credentials/old", target="credentials/new"),)


def _renamed_state(kinds=FAKE_KINDS):
    return dataclasses.replace(state(kinds=kinds, credentials={"new": Credential("new")}), moved=MOVE)


def _applied_once(provider, sink):
    """The credential made at its old name, its secret in the sink."""
    first = state(kinds=type(provider).kinds, credentials={"old": Credential("old")})
    report = ApplyExecutor(provider, sink, Redactor()).execute(make_plan(first, provider, now=NOW).plan)
    assert report.ok
    return json.loads(sink.path.read_text())["credentials/old"]


def test_a_kind_that_cannot_be_renamed_is_replaced_saying_why_and_the_old_entry_is_retired(tmp_path):
    provider, sink = FakeProvider(), FileSink(tmp_path / "secrets.json")
    old_entry = _applied_once(provider, sink)
    old_id = provider.live["credentials/old"].id
    plan = make_plan(_renamed_state(), provider, now=NOW).plan
    why = "moved: credentials can't be renamed in place"
    assert [(c.action, c.address, c.id, c.reason) for c in plan.changes] == [
        (Action.CREATE, "credentials/new", None, f"replaces credentials/old ({why})"),
        (Action.DELETE, "credentials/old", old_id, f"replaced by credentials/new ({why})"),
    ]
    assert plan.changes[0].details["moved_from"] == "credentials/old"
    assert plan.changes[1].details["moved_to"] == "credentials/new"
    assert [(risk.category, risk.message) for risk in plan.changes[1].risks] == [
        (
            RiskCategory.BREAKING,
            f"deletes credentials/old, replaced by credentials/new ({why}): its secret stops working",
        )
    ]
    report = ApplyExecutor(provider, sink, Redactor()).execute(plan)
    assert report.ok
    document = json.loads(sink.path.read_text())
    assert document["credentials/new"]["client_secret"] != old_entry["client_secret"]
    assert "retired_at" in document["credentials/old"] and "client_secret" not in document["credentials/old"]
    assert make_plan(_renamed_state(), provider, now=NOW).plan.empty


class RenamingProvider(FakeProvider):
    kinds = tuple(
        dataclasses.replace(kind, renamable=True) if kind.name == "credentials" else kind for kind in FAKE_KINDS
    )


def test_a_failed_rename_leaves_the_entry_at_the_new_address_and_the_retry_converges(tmp_path):
    provider, sink = RenamingProvider(), FileSink(tmp_path / "secrets.json")
    entry = _applied_once(provider, sink)
    old_id = provider.live["credentials/old"].id
    plan = make_plan(_renamed_state(RenamingProvider.kinds), provider, now=NOW).plan
    assert [(c.action, c.reason) for c in plan.changes] == [(Action.UPDATE, "renamed from credentials/old")]
    provider.fail["credentials/new"] = "HTTP 502: the proxy lost the answer"  # the rename may have happened
    report = ApplyExecutor(provider, sink, Redactor()).execute(plan)
    assert [r.status for r in report.results] == [FAILED]
    assert json.loads(sink.path.read_text()) == {"credentials/new": entry}
    provider.fail.clear()
    retry = make_plan(_renamed_state(RenamingProvider.kinds), provider, now=NOW).plan
    report = ApplyExecutor(provider, sink, Redactor()).execute(retry)
    assert [r.status for r in report.results] == [APPLIED]
    assert json.loads(sink.path.read_text()) == {"credentials/new": entry}
    assert "credentials/old" not in provider.live and provider.live["credentials/new"].id == old_id
    assert make_plan(_renamed_state(RenamingProvider.kinds), provider, now=NOW).plan.empty


def test_destroy_ignores_moves_and_deletes_the_live_resource():
    provider = FakeProvider({"credentials/old": live("credentials/old", {"roles": []})})
    plan = make_plan(_renamed_state(), provider, destroy=True, now=NOW).plan
    assert [(c.action, c.address) for c in plan.changes] == [(Action.DELETE, "credentials/old")]
