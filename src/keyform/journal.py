"""The apply journal: what apply is about to do and what happened, flushed before each step.

One JSON object per line in `.keyform/journal.jsonl` beside keyform.yaml, never a secret. A
change with a `begin` record and no `end` record was in flight when apply died; the next apply
reads those and makes sure each such resource ends up with a secret in the sink.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyform.durable import GroupCommitLog
from keyform.errors import KeyformError
from keyform.plan.changes import Change


class Journal:
    """Append-only JSON lines, each on disk before the step it records; safe from the executor's worker threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex[:12]
        self._log: GroupCommitLog | None = None

    def in_flight(self) -> list[dict[str, Any]]:
        """Changes of earlier runs that never ended (apply was killed) or ended failed mid-way."""
        open_changes: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # a torn last line from a crash mid-write
                continue
            key = (record.get("run", ""), record.get("seq", ""))
            if record.get("event") == "begin":
                open_changes[key] = record
            elif record.get("event") == "end" and record.get("status") != "failed":
                open_changes.pop(key, None)  # a failed change may still have made the API issue a secret
        return list(open_changes.values())

    def open(self) -> None:
        """Start this run's journal, replacing earlier runs (call after reading `in_flight`)."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._log = GroupCommitLog(open(self.path, "w", encoding="utf-8"))  # noqa: SIM115 (closed in close())
        except OSError as error:
            raise self._error(error) from None
        self._write({"event": "run", "run": self.run_id})

    def begin(self, seq: int, change: Change, *, secret: bool) -> None:
        """Record a change about to start; `secret`: applying it makes the API show a new secret."""
        record = {"event": "begin", "run": self.run_id, "seq": seq, "address": change.address}
        self._write({**record, "action": change.action.value, "secret": secret})

    def end(self, seq: int, change: Change, status: str) -> None:
        """Record how a change ended (after its secret, if any, is in the sink).

        Handed to the OS, not synced: a killed apply can't lose it, and it reaches the disk with the
        next record's fsync. Only a machine crash in between loses it, and then the next apply
        issues that resource one more fresh secret, which is safe.
        """
        record = {"event": "end", "run": self.run_id, "seq": seq, "address": change.address, "status": status}
        self._write(record, durable=False)

    def close(self) -> None:
        if self._log is not None:
            log, self._log = self._log, None
            with contextlib.suppress(OSError):  # only end records can be unsynced: at worst one extra reissue
                log.close()

    def _write(self, record: dict[str, Any], *, durable: bool = True) -> None:
        """Append `record`; with `durable`, on disk when this returns (concurrent writers share an fsync)."""
        log = self._log
        if log is None:
            return
        record["at"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            ticket = log.write(json.dumps(record, sort_keys=True) + "\n")
            if durable:
                log.sync(ticket)
        except OSError as error:
            raise self._error(error) from None

    def _error(self, error: OSError) -> KeyformError:
        return KeyformError(
            f"can't write the apply journal {self.path} ({error.strerror or error}): free disk space or fix"
            " the folder's permissions, then run apply again (it re-issues any secret that was in flight)"
        )
