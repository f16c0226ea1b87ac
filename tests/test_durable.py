import os
import threading

import pytest

from keyform import durable
from keyform.durable import GroupCommitLog
from tests.fakes import break_fsync


def new_log(path):
    return GroupCommitLog(path.open("w", encoding="utf-8"))


@pytest.fixture
def fsyncs(monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(durable.os, "fsync", lambda fd: calls.append(fd) or real(fd))
    return calls


def test_one_fsync_covers_every_record_written_before_it(tmp_path, fsyncs):
    log = new_log(tmp_path / "log")
    tickets = [log.write(f"record {n}\n") for n in range(3)]
    log.sync(tickets[-1])
    for ticket in tickets:
        log.sync(ticket)
    assert len(fsyncs) == 1
    log.append("record 3\n")
    assert len(fsyncs) == 2
    log.close()
    assert (tmp_path / "log").read_text().splitlines() == [f"record {n}" for n in range(4)]


def test_a_failed_fsync_is_raised_to_its_caller_and_retried_by_the_next(tmp_path, monkeypatch):
    log = new_log(tmp_path / "log")
    ticket = log.write("record\n")
    break_fsync(monkeypatch, 5, "Input/output error")
    with pytest.raises(OSError, match="Input/output error"):
        log.sync(ticket)
    synced = []
    monkeypatch.setattr(durable.os, "fsync", synced.append)
    log.sync(ticket)  # not covered yet: this caller syncs itself
    assert len(synced) == 1
    log.close()


def test_concurrent_appends_all_land_whole(tmp_path):
    log = new_log(tmp_path / "log")
    start = threading.Barrier(8)

    def worker(n):
        start.wait()
        for i in range(50):
            log.append(f"{n}-{i}\n")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    lines = (tmp_path / "log").read_text().splitlines()
    assert sorted(lines) == sorted(f"{n}-{i}" for n in range(8) for i in range(50))
