import json
import os
import stat

from keyform.apply import APPLIED, FAILED, SKIPPED, STALE, ApplyExecutor, DryRunExecutor
from keyform.errors import SecretSinkError
from keyform.plan.build import make_plan
from keyform.providers.keyform.model import ApiKey, Credential, Role, User
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from tests.fakes import NOW, FakeProvider, state

READER = Role("reader", "", {"employees": ("read",)})


def example(**sections):
    return state(
        **{
            "roles": {"reader": READER},
            "users": {"a@x.example": User("a@x.example", "A", "B", roles=("reader",), api_key=ApiKey())},
            "credentials": {"sync": Credential("sync", roles=("reader",)), "solo": Credential("solo")},
            **sections,
        }
    )


def executor(provider, sink, **kw):
    return ApplyExecutor(provider, sink, Redactor(), concurrency=2, **kw)


def test_apply_converges_and_delivers_every_new_secret(tmp_path):
    provider, sink = FakeProvider(), FileSink(tmp_path / "out" / "secrets.json")
    plan = make_plan(example(), provider, now=NOW).plan
    report = executor(provider, sink).execute(plan)
    assert report.ok and report.count(APPLIED) == 4
    document = json.loads(sink.path.read_text())
    assert sorted(document) == ["credentials/solo", "credentials/sync", "users/a@x.example"]
    for generated in provider.generated:
        assert all(document[generated.address][k] == v for k, v in generated.fields.items())
    assert stat.S_IMODE(os.stat(sink.path).st_mode) == 0o600
    assert make_plan(example(), provider, now=NOW).plan.empty


def test_failed_role_skips_its_dependents_and_independent_changes_still_apply(tmp_path):
    provider = FakeProvider()
    provider.fail["roles/reader"] = "HTTP 500: boom"
    plan = make_plan(example(), provider, now=NOW).plan
    report = executor(provider, FileSink(tmp_path / "s.json")).execute(plan)
    status = {r.change.address: (r.status, r.message) for r in report.results}
    assert status["roles/reader"] == (FAILED, "HTTP 500: boom")
    assert status["users/a@x.example"] == (SKIPPED, "depends on roles/reader, which did not apply")
    assert status["credentials/solo"][0] == APPLIED
    assert not report.ok
    provider.fail.clear()
    assert executor(provider, FileSink(tmp_path / "s.json")).execute(make_plan(example(), provider, now=NOW).plan).ok
    assert make_plan(example(), provider, now=NOW).plan.empty


def test_stale_change_is_refused_per_resource(tmp_path):
    provider = FakeProvider()
    executor(provider, FileSink(tmp_path / "s.json")).execute(make_plan(example(), provider, now=NOW).plan)
    desired = example(
        credentials={"sync": Credential("sync", enabled=False), "solo": Credential("solo", enabled=False)}
    )
    plan = make_plan(desired, provider, now=NOW).plan
    moved = provider.live["credentials/sync"]
    provider.live["credentials/sync"] = moved._replace(etag='"moved"')
    report = executor(provider, FileSink(tmp_path / "s.json")).execute(plan)
    status = {r.change.address: r.status for r in report.results}
    assert status == {"credentials/solo": APPLIED, "credentials/sync": STALE}


class BrokenSink(FileSink):
    def deliver(self, secret):
        raise SecretSinkError("disk full")


def test_sink_failure_saves_the_secret_to_an_emergency_file_and_stops(tmp_path):
    provider = FakeProvider()
    desired = state(credentials={"a": Credential("a"), "b": Credential("b")})
    ex = ApplyExecutor(provider, BrokenSink(tmp_path / "s.json"), Redactor(), concurrency=1, emergency_dir=tmp_path)
    report = ex.execute(make_plan(desired, provider, now=NOW).plan)
    assert [r.status for r in report.results] == [FAILED, SKIPPED]
    assert report.emergency_file is not None and report.emergency_file.parent == tmp_path
    saved = json.loads(report.emergency_file.read_text())
    assert saved["credentials/a"]["client_secret"] == provider.generated[0].fields["client_secret"]
    assert stat.S_IMODE(os.stat(report.emergency_file).st_mode) == 0o600
    assert provider.generated[0].fields["client_secret"] not in report.results[0].message
    assert "disk full" in report.results[0].message and str(report.emergency_file) in report.results[0].message


def test_dry_run_walks_the_plan_without_touching_the_provider():
    provider = FakeProvider()
    plan = make_plan(example(), provider, now=NOW).plan
    report = DryRunExecutor().execute(plan)
    assert [r.change for r in report.results] == list(plan.changes)
    assert provider.applied == [] and provider.live == {}
