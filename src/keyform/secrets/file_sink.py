"""The default sink: a 0600 JSON file keyed by address, written atomically and merged.

Each delivery appends one line to `<path>.pending` (constant time, durable before apply
moves on); `close()` folds the pending lines into the JSON document with one atomic rewrite. A
pending log left by a killed apply is folded in by `recover()`, which every command that opens the
sink runs first (and by the next preflight); `read()` always sees it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from keyform.durable import GroupCommitLog
from keyform.errors import SecretSinkError
from keyform.providers.base import GeneratedSecret
from keyform.secrets.base import SecretSink

GITIGNORE_TEXT = "# written by keyform: secrets never go into git\n*\n"


class FileSink(SecretSink):
    """Secrets in a JSON object keyed by resource address (mode 0600, directory 0700)."""

    thread_safe = True

    def __init__(self, path: Path):
        self.path = Path(path)
        self.pending_path = self.path.with_name(self.path.name + ".pending")
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None  # the merged document, once loaded
        self._pending: GroupCommitLog | None = None  # the open pending log

    def describe(self) -> str:
        return str(self.path)

    def preflight(self) -> None:
        try:
            self._prepare_directory()
            for leftover in self.path.parent.glob(f".{self.path.name}.*"):
                leftover.unlink()  # a temp file from a write that was killed before its rename
            with self._lock:
                self._document = self.read()
                if self.pending_path.exists():  # a killed apply's deliveries: fold them in now
                    self._compact()
            probe = tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".probe-", delete=True)  # noqa: SIM115
            probe.close()
        except OSError as error:
            raise SecretSinkError(
                f"secrets file {self.path} is not writable ({error.strerror}): "
                "fix the path or permissions in secrets.path"
            ) from None

    def recover(self) -> None:
        """Fold in the pending log a killed apply left (nothing to do when there is none)."""
        if not self.pending_path.exists():
            return
        try:
            self._prepare_directory()
        except OSError as error:
            raise SecretSinkError(
                f"can't finish the secrets file {self.path} that an interrupted apply left ({error.strerror}): "
                "fix the path or permissions in secrets.path"
            ) from None
        with self._lock:
            self._compact()

    def read(self) -> dict[str, Any]:
        """The current document, pending deliveries included ({} when there is none yet)."""
        document = self._read_document()
        try:
            lines = self.pending_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return document
        except OSError as error:
            raise SecretSinkError(f"can't read {self.pending_path} ({error.strerror})") from None
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # the torn last line of a write that was killed: never acknowledged
                continue
            document[record["address"]] = record["entry"]
        return document

    def deliver(self, secret: GeneratedSecret) -> None:
        try:
            with self._lock:
                if self._document is None:
                    self._document = self.read()
                entry = entry_for(secret, self._document.get(secret.address))
                line = json.dumps({"address": secret.address, "entry": entry}, sort_keys=True) + "\n"
                if self._pending is None:
                    self._prepare_directory()
                    descriptor = os.open(self.pending_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                    self._pending = GroupCommitLog(os.fdopen(descriptor, "a", encoding="utf-8"))
                pending = self._pending
                ticket = pending.write(line)
                self._document[secret.address] = entry
            pending.sync(ticket)  # outside the lock: deliveries in flight together share one fsync
        except OSError as error:
            raise SecretSinkError(f"could not write secrets file {self.pending_path} ({error.strerror})") from None

    def close(self) -> None:
        """Fold this run's deliveries into the JSON document (one atomic rewrite)."""
        with self._lock:
            if self._pending is not None:
                pending, self._pending = self._pending, None
                try:
                    pending.close()
                except OSError as error:  # a delivery whose sync failed was already reported as failed
                    raise SecretSinkError(
                        f"could not write secrets file {self.pending_path} ({error.strerror})"
                    ) from None
                self._compact()

    def _compact(self) -> None:
        document = self.read()
        try:
            write_private_file(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")
            self.pending_path.unlink(missing_ok=True)
        except OSError as error:
            raise SecretSinkError(
                f"could not write secrets file {self.path} ({error.strerror}); the new secrets are safe in "
                f"{self.pending_path}: fix the problem and run apply again to fold them in"
            ) from None
        self._document = document

    def _read_document(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise SecretSinkError(f"can't read secrets file {self.path} ({error.strerror})") from None
        try:
            document = json.loads(text)
        except ValueError:
            raise SecretSinkError(f"secrets file {self.path} is not valid JSON: restore it or move it away") from None
        if not isinstance(document, dict):
            raise SecretSinkError(f"secrets file {self.path} must hold a JSON object: restore it or move it away")
        return document

    def _prepare_directory(self) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory != Path(".") and directory.resolve() != Path.cwd().resolve():
            os.chmod(directory, 0o700)
            gitignore = directory / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text(GITIGNORE_TEXT, encoding="utf-8")


def entry_for(secret: GeneratedSecret, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The sink document entry for a secret; during an overlap it keeps the retiring secret."""
    entry: dict[str, Any] = {
        "type": secret.type,
        **secret.fields,
        "secret_id": secret.secret_id,
        "created_at": secret.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if secret.retiring and previous and previous.get("secret_id") == secret.retiring:
        retiring = {k: v for k, v in previous.items() if k not in ("type", "retiring")}
        entry["retiring"] = retiring
    return entry


def write_private_file(path: Path, text: str) -> None:
    """Write text atomically (temp file, fsync, rename) with mode 0600."""
    write_text_atomic(path, text, mode=0o600)


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write text atomically (see write_bytes_atomic)."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def write_bytes_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write bytes atomically: a temp file beside it with `mode`, fsync, rename, fsync the directory."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
