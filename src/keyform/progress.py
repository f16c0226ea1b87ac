"""Apply progress: each finished change as one line for the UI's progress (never a secret)."""

from __future__ import annotations

import threading

from keyform.apply import APPLIED, PLANNED, SKIPPED, ChangeResult
from keyform.ui import UI


def change_line(result: ChangeResult) -> str:
    note = f": {result.message}" if result.message else ""
    secret = " (new secret delivered)" if result.secret_delivered else ""
    return f"  {result.status:>7}  {result.change.action.value} {result.change.address}{secret}{note}"


class ApplyProgress:
    """Called from the executor's worker threads after each change."""

    def __init__(self, ui: UI, total: int, *, bar: bool = True):
        self._progress = ui.progress(total, label="Applying", bar=bar)
        self._lock = threading.Lock()

    def __call__(self, result: ChangeResult) -> None:
        if result.status == SKIPPED and result.message.startswith("not started"):
            return  # apply stopped: the report sums these up in one line
        with self._lock:
            self._progress.advance(change_line(result), problem=result.status not in (APPLIED, PLANNED))

    def close(self) -> None:
        with self._lock:
            self._progress.close()
