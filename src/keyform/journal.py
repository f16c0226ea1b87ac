"""The apply journal: what apply is about to do and what happened, flushed before each step.

One JSON object per line in `.keyform/journal.jsonl` beside keyform.yaml, never a secret. A
change with a `begin` record and no `end` record was in flight when apply died; the next apply
reads those and makes sure each such resource ends up with a secret in the sink.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyform.plan.changes import Change


class Journal:
    """Append-only, fsynced JSON lines; safe to call from the executor's worker threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._handle: Any = None

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
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._write({"event": "run", "run": self.run_id})

    def begin(self, seq: int, change: Change, *, secret: bool) -> None:
        """Record a change about to start; `secret`: applying it makes the API show a new secret."""
        record = {"event": "begin", "run": self.run_id, "seq": seq, "address": change.address}
        self._write({**record, "action": change.action.value, "secret": secret})

    def end(self, seq: int, change: Change, status: str) -> None:
        """Record how a change ended (after its secret, if any, is in the sink)."""
        self._write({"event": "end", "run": self.run_id, "seq": seq, "address": change.address, "status": status})

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, record: dict[str, Any]) -> None:
        record["at"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            if self._handle is None:
                return
            self._handle.write(json.dumps(record, sort_keys=True) + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
