"""The default sink: a 0600 JSON file keyed by address, written atomically and merged."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from keyform.errors import SecretSinkError
from keyform.providers.base import GeneratedSecret
from keyform.secrets.base import SecretSink

GITIGNORE_TEXT = "# written by keyform: secrets never go into git\n*\n"


class FileSink(SecretSink):
    """Secrets in a JSON object keyed by resource address (mode 0600, directory 0700)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def describe(self) -> str:
        return str(self.path)

    def preflight(self) -> None:
        try:
            self._prepare_directory()
            for leftover in self.path.parent.glob(f".{self.path.name}.*"):
                leftover.unlink()  # a temp file from a write that was killed before its rename
            self.read()
            probe = tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".probe-", delete=True)  # noqa: SIM115
            probe.close()
        except OSError as error:
            raise SecretSinkError(
                f"secrets file {self.path} is not writable ({error.strerror}): "
                "fix the path or permissions in secrets.path"
            ) from None

    def read(self) -> dict[str, Any]:
        """The current document ({} when the file doesn't exist yet)."""
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

    def deliver(self, secret: GeneratedSecret) -> None:
        with self._lock:
            document = self.read()
            document[secret.address] = entry_for(secret, document.get(secret.address))
            try:
                self._prepare_directory()
                write_private_file(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")
            except OSError as error:
                raise SecretSinkError(f"could not write secrets file {self.path} ({error.strerror})") from None

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
