import json

import pytest

from keyform.apply import ApplyExecutor
from keyform.contract import Action, Change
from keyform.journal import Journal
from keyform.plan.build import make_plan
from keyform.providers.keyform.model import Credential
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from tests.fakes import NOW, FakeProvider, break_fsync, state


def test_begun_but_unended_changes_are_in_flight_and_a_torn_line_is_ignored(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.open()
    a, b = Change(Action.CREATE, "credentials/a"), Change(Action.UPDATE, "roles/r")
    journal.begin(0, a, secret=True)
    journal.begin(1, b, secret=False)
    journal.end(1, b, "applied")
    journal.close()
    with open(journal.path, "a") as handle:
        handle.write('{"event": "end", "run": "x", "se')  # killed mid-write
    [record] = Journal(journal.path).in_flight()
    assert (record["address"], record["action"], record["secret"]) == ("credentials/a", "create", True)


def test_opening_a_new_run_forgets_earlier_runs(tmp_path):
    first = Journal(tmp_path / "j.jsonl")
    first.open()
    first.begin(0, Change(Action.CREATE, "credentials/a"), secret=True)
    first.close()
    second = Journal(tmp_path / "j.jsonl")
    second.open()
    second.close()
    assert second.in_flight() == []


def test_executor_journals_every_change_without_secrets(tmp_path):
    provider = FakeProvider()
    journal = Journal(tmp_path / "j.jsonl")
    journal.open()
    desired = state(credentials={"a": Credential("a"), "b": Credential("b")})
    report = ApplyExecutor(provider, FileSink(tmp_path / "s.json"), Redactor(), journal=journal).execute(
        make_plan(desired, provider, now=NOW).plan
    )
    journal.close()
    assert report.ok
    text = journal.path.read_text()
    events = [(r["event"], r.get("address")) for r in map(json.loads, text.splitlines())]
    assert events.count(("begin", "credentials/a")) == 1 and events.count(("end", "credentials/a")) == 1
    assert journal.in_flight() == []
    for generated in provider.generated:
        assert generated.fields["client_secret"] not in text


def test_a_begin_is_on_disk_before_the_change_starts_and_an_end_rides_on_the_next_sync(tmp_path, monkeypatch):
    from keyform import durable

    synced_lines = []
    journal = Journal(tmp_path / "j.jsonl")
    monkeypatch.setattr(durable.os, "fsync", lambda fd: synced_lines.append(len(journal.path.read_text().splitlines())))
    journal.open()  # the run record
    change = Change(Action.CREATE, "credentials/a")
    journal.begin(0, change, secret=True)
    journal.end(0, change, "applied")
    assert synced_lines == [1, 2]  # run, begin: each synced as written; the end is not yet
    assert Journal(journal.path).in_flight() == []  # but a killed apply can't lose it: the OS has it
    journal.close()
    assert synced_lines == [1, 2, 3]


def test_a_journal_that_cannot_be_written_is_a_one_line_error_naming_it(tmp_path, monkeypatch):
    from keyform.errors import KeyformError

    journal = Journal(tmp_path / "j.jsonl")
    journal.open()
    break_fsync(monkeypatch, 28, "No space left on device")
    with pytest.raises(KeyformError) as caught:
        journal.begin(0, Change(Action.CREATE, "credentials/a"), secret=True)
    assert str(caught.value) == (
        f"can't write the apply journal {journal.path} (No space left on device): free disk space or fix the"
        " folder's permissions, then run apply again (it re-issues any secret that was in flight)"
    )
    journal.close()  # an unsynced end record is not worth failing a finished apply for
