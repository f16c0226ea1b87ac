"""The apply journal: what apply is about to do and what happened, flushed before each step.

One JSON object per line in `.keyform/journal.jsonl` beside keyform.yaml, never a secret. A
change with a `begin` record and no `end` record was in flight when apply died; the next apply
reads those and makes sure each such resource ends up with a secret in the sink.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyform.contract import Change
from keyform.durable import GroupCommitLog
from keyform.errors import KeyformError


class Journal:
    """Append-only JSON lines, each on disk before the step it records; safe from the executor's worker threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex[:12]
        self._log: GroupCommitLog | None = None

    def in_flight(self) -> list[dict[str, Any]]:
        """Changes of earlier runs that began and never ended (apply was killed mid-way)."""
        return [begin for begin, end in self._changes() if end is None]

    def failed_with_secret(self) -> list[dict[str, Any]]:
        """Changes of earlier runs that ended failed while asking for a new secret: the API may have
        issued one that never reached the sink (its answer lost), so the next apply issues a fresh one."""
        return [
            begin
            for begin, end in self._changes()
            if end is not None and end.get("status") == "failed" and begin.get("secret")
        ]

    def _changes(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each journalled change's begin record and its end record (None: it never ended)."""
        changes: dict[tuple[str, str], list[dict[str, Any] | None]] = {}
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
                changes[key] = [record, None]
            elif record.get("event") == "end" and key in changes:
                changes[key][1] = record
        return [(begin, end) for begin, end in changes.values() if begin is not None]

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


class AppliedPlans:
    """Saved plan files whose apply started here, by the SHA-256 of their bytes: a saved plan applies once.

    One `<sha256> <time>` line per plan in `.keyform/applied-plans`, on disk before the apply's first
    change (a second apply of the same file would repeat its creates and new secrets).
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def applied_at(self, plan_id: str) -> str | None:
        """When the plan with this id was applied here, or None."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise KeyformError(f"can't read {self.path} ({error.strerror or error}): fix its permissions") from None
        for line in lines:
            digest, _, when = line.partition(" ")
            if digest == plan_id:
                return when or "earlier"
        return None

    def record(self, plan_id: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{plan_id} {at}\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise KeyformError(
                f"can't record the applied plan in {self.path} ({error.strerror or error}): free disk space or "
                "fix the folder's permissions, then apply again"
            ) from None
