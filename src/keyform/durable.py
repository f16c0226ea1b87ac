"""An append-only file whose appends are on disk when they return, sharing fsyncs (group commit).

Apply journals every change and logs every delivered secret before it moves on. One fsync per
record, taken under a lock, made every worker wait in line for the disk: with 8 workers the disk,
not the API, set the pace. Here a record is written under the lock and synced outside it, and a
worker whose record an earlier fsync already covered does not sync again.
"""

from __future__ import annotations

import os
import threading
from typing import TextIO


class GroupCommitLog:
    """Durable appends to an open text handle, safe from many threads."""

    def __init__(self, handle: TextIO):
        self._handle = handle
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # records handed to the OS
        self._synced = 0  # records known to be on disk

    def write(self, text: str) -> int:
        """Hand `text` to the OS (not yet durable); returns the ticket `sync` takes."""
        with self._write_lock:
            self._handle.write(text)
            self._handle.flush()
            self._written += 1
            return self._written

    def sync(self, ticket: int) -> None:
        """Return once the record `ticket` names (and every earlier one) is on disk."""
        with self._sync_lock:
            if self._synced >= ticket:
                return  # an fsync that started after this record was written covered it
            covered = self._written  # every counted record was flushed before it was counted
            os.fsync(self._handle.fileno())
            self._synced = covered

    def append(self, text: str) -> None:
        """Write `text` and return once it is on disk."""
        self.sync(self.write(text))

    def close(self) -> None:
        """Sync what is still unsynced, then close."""
        try:
            self.sync(self._written)
        finally:
            self._handle.close()
