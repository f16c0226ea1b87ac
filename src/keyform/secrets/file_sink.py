"""The default sink: a 0600 JSON file keyed by address, written atomically and merged.

Each delivery appends one line to `<path>.pending` (constant time, durable before apply
moves on); `close()` folds the pending lines into the JSON document with one atomic rewrite. A
pending log left by a killed apply is folded in by `recover()`, which every command that opens the
sink runs first (and by the next preflight); `read()` always sees it.

Git never gets the secrets: keyform's own directory (`.keyform/`, or one keyform created) is 0700
with a `.gitignore` that ignores everything; any other directory (the repository root, say) gets
anchored entries for the sink's files in its `.gitignore`, appended if missing. A sink file git
already tracks, and a symlinked sink directory, are refused before anything is written.

A resource apply deletes has its entry retired: the secret values are dropped (the secret died with
the resource), its public facts stay, with `retired_at`; `keyform verify` reports it as retired.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from keyform.contract import GeneratedSecret
from keyform.durable import GroupCommitLog
from keyform.errors import SecretSinkError
from keyform.secrets.base import SecretSink, beside
from keyform.secrets.entries import DEFAULT_PUBLIC, without_secrets

GITIGNORE_HEADER = "# written by keyform: secrets never go into git\n"
GITIGNORE_TEXT = GITIGNORE_HEADER + "*\n"
KEYFORM_DIR = ".keyform"  # keyform's own directory beside keyform.yaml
GIT_TIMEOUT = 30.0  # seconds; `git ls-files` answers at once unless something is badly wrong


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
        self._refuse_unsafe_places()
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
        self._refuse_unsafe_places()
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
            if record["entry"] is None:  # the old address of an entry `move` moved
                document.pop(record["address"], None)
            else:
                document[record["address"]] = record["entry"]
        return document

    def deliver(self, secret: GeneratedSecret) -> None:
        self._store(secret.address, lambda previous: entry_for(secret, previous))

    def retire(self, address: str) -> None:
        """Replace the entry of a deleted resource with one without its secret, marked `retired_at`."""
        now = datetime.now(UTC)
        self._store(address, lambda previous: retired_entry(previous, now) if live_entry(previous) else None)

    def move(self, source: str, target: str) -> None:
        """Log the entry at `target` and the removal of `source` in one write: a torn write keeps
        at least the first line (the entry at `target`), so the secret is never only in flight."""
        try:
            with self._lock:
                if self._document is None:
                    self._document = self.read()
                entry = self._document.get(source)
                if entry is None:
                    return
                lines = json.dumps({"address": target, "entry": entry}, sort_keys=True) + "\n"
                lines += json.dumps({"address": source, "entry": None}, sort_keys=True) + "\n"
                pending = self._open_pending()
                ticket = pending.write(lines)
                self._document[target] = entry
                del self._document[source]
            pending.sync(ticket)
        except OSError as error:
            raise SecretSinkError(f"could not write secrets file {self.pending_path} ({error.strerror})") from None

    def _open_pending(self) -> GroupCommitLog:
        """The pending log, opened for appending on first use (call with the lock held)."""
        if self._pending is None:
            self._prepare_directory()
            descriptor = os.open(self.pending_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._pending = GroupCommitLog(os.fdopen(descriptor, "a", encoding="utf-8"))
        return self._pending

    def _store(self, address: str, make_entry: Callable[[dict[str, Any] | None], dict[str, Any] | None]) -> None:
        """Log the entry `make_entry` makes from the current one (None: nothing to store), durably."""
        try:
            with self._lock:
                if self._document is None:
                    self._document = self.read()
                entry = make_entry(self._document.get(address))
                if entry is None:
                    return
                line = json.dumps({"address": address, "entry": entry}, sort_keys=True) + "\n"
                pending = self._open_pending()
                ticket = pending.write(line)
                self._document[address] = entry
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

    def _refuse_unsafe_places(self) -> None:
        """SecretSinkError for a symlinked sink directory or a sink file git tracks (before any write)."""
        directory = self.path.parent
        refuse_symlink(directory)
        for name in tracked_by_git(directory, [self.path.name, self.pending_path.name]):
            tracked = directory / name
            raise SecretSinkError(
                f"secrets file {tracked} is tracked by git, so its secrets would be committed: "
                f"run `git rm --cached {tracked}` and commit, then run keyform again"
            )

    def _prepare_directory(self) -> None:
        directory = self.path.parent
        refuse_symlink(directory)
        created = not directory.exists()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        own = created or directory.name == KEYFORM_DIR or _gitignore_text(directory) == GITIGNORE_TEXT
        if own:
            os.chmod(directory, 0o700)
        name = gitignore_pattern(self.path.name)
        ignore_in_git(directory, [f"/{name}", f"/{name}.pending", f"/.{name}.*"], own=own)


def refuse_symlink(directory: Path) -> None:
    """SecretSinkError if the sink's directory is a symlink (keyform would chmod and fill its target)."""
    if directory.is_symlink():
        raise SecretSinkError(
            f"secrets directory {directory} is a symlink: keyform won't chmod or write secrets through it; "
            "make it a real directory or point secrets.path at the target"
        )


def tracked_by_git(directory: Path, names: Sequence[str]) -> list[str]:
    """Which of `names` (files in `directory`) git tracks; [] without git, outside a work tree, or unsure."""
    git = shutil.which("git")
    if git is None or not directory.is_dir():
        return []
    command = [git, "--literal-pathspecs", "-C", str(directory), "ls-files", "-z", "--", *names]
    try:
        listed = subprocess.run(command, capture_output=True, check=False, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listed.returncode != 0:  # 128: not a work tree (or a repository git won't use)
        return []
    return [os.fsdecode(name) for name in listed.stdout.split(b"\0") if name]


def ignore_in_git(directory: Path, patterns: Sequence[str], *, own: bool) -> None:
    """Make git ignore `patterns` in `directory`, never clobbering a .gitignore that is there.

    keyform's own directory gets a .gitignore ignoring everything; another directory gets the
    patterns. An existing .gitignore that ignores everything is left alone; otherwise the missing
    patterns are appended to it.
    """
    gitignore = directory / ".gitignore"
    text = _gitignore_text(directory)
    if text is None:
        text = GITIGNORE_TEXT if own else GITIGNORE_HEADER + "".join(f"{p}\n" for p in patterns)
        gitignore.write_text(text, encoding="utf-8")
        return
    lines = {line.strip() for line in text.splitlines()}
    missing = [pattern for pattern in patterns if pattern not in lines]
    if "*" in lines or not missing:
        return
    separator = "" if text.endswith("\n") or not text else "\n"
    with gitignore.open("a", encoding="utf-8") as handle:
        handle.write(separator + GITIGNORE_HEADER + "".join(f"{p}\n" for p in missing))


def gitignore_pattern(name: str) -> str:
    """A file name as a .gitignore pattern that matches only that name (wildcards escaped)."""
    escaped = "".join(f"\\{c}" if c in "\\*?[" else c for c in name)
    escaped = f"\\{escaped}" if escaped[:1] in ("#", "!") else escaped
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


def _gitignore_text(directory: Path) -> str | None:
    try:
        return (directory / ".gitignore").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def entry_for(secret: GeneratedSecret, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The sink document entry for a secret; during an overlap it keeps the retiring secret.

    A pending secret (keyform made it and is about to set it) is written ahead of the system: the
    entry keeps everything the previous one held, any of which may still be live, and lists the new
    secret under `pending`. The confirmed entry that follows replaces it.
    """
    if secret.pending:
        return _with_pending(secret, previous)
    entry = _fields(secret)
    if secret.retiring and previous and previous.get("secret_id") == secret.retiring:
        retiring = {k: v for k, v in previous.items() if k not in ("type", "retiring", "pending")}
        entry["retiring"] = retiring
    return entry


def _fields(secret: GeneratedSecret) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": secret.type,
        **secret.fields,
        "secret_id": secret.secret_id,
        "created_at": _timestamp(secret.created_at),
    }
    if tuple(secret.public) != DEFAULT_PUBLIC:
        fields["public"] = list(secret.public)
    return fields


def _with_pending(secret: GeneratedSecret, previous: dict[str, Any] | None) -> dict[str, Any]:
    entry = dict(previous) if live_entry(previous) else {}
    entry["pending"] = [*entry.get("pending", ()), _fields(secret)]
    return entry


def live_entry(entry: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a sink document entry is one to retire (an entry, not retired yet)."""
    return isinstance(entry, dict) and "retired_at" not in entry


def retired_entry(entry: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The entry of a deleted resource: its public facts and `retired_at`, no secret values."""
    return {**without_secrets(entry), "retired_at": _timestamp(when)}


def write_private_file(path: Path, text: str) -> None:
    """Write text atomically (temp file, fsync, rename) with mode 0600."""
    write_text_atomic(path, text, mode=0o600)


def _timestamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


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


def file_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    """The `file` sink's factory (`keyform.secrets.SINKS`)."""
    return FileSink(beside(base_dir, options.get("path", ".keyform/secrets.json")))
