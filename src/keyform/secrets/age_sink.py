"""The age sink: the file sink's JSON document, encrypted to age recipients (0600, atomic).

Recipients are X25519 public keys (`age1...`) or SSH public keys (`ssh-ed25519 ...`, `ssh-rsa ...`);
the file is the standard binary age format (pyrage, the rage bindings), so `age -d -i KEY FILE`
decrypts it.

Merging. An encrypted file can only be merged with the new entries if keyform can decrypt it:

- with `identity_file` (an age identity file with `AGE-SECRET-KEY-1...` lines, or an unencrypted
  OpenSSH private key), every delivery decrypts `path`, merges the new entry (keeping a retiring
  secret during a rotation overlap, like the file sink) and re-encrypts the whole document;
  preflight checks that the identity decrypts the existing file and that an X25519 identity's
  public key is among the recipients, so later runs can read the file back;
- without it (say, CI that holds only public keys), keyform never overwrites an existing file,
  since that would silently drop the secrets inside: a run's secrets go to `path` if it doesn't
  exist yet, else to a new sibling named with the run's UTC time (`secrets.json.20260102T030405Z.age`),
  and each delivery re-encrypts that run's document (kept in memory for the run). Runs that create
  no secret write nothing. Whoever holds an identity decrypts the files (`age -d -i KEY FILE`) and
  merges them, or configures `identity_file` to have keyform merge into `path`.

Deletes. With `identity_file`, a resource apply deletes has its entry retired like in the file sink
(secret values dropped, `retired_at` added); without it the file can't be edited, so the entry stays.

The identity is read only when needed and never printed; errors name paths and recipients (public).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
from pyrage import ssh, x25519

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.secrets.base import SecretSink, beside
from keyform.secrets.file_sink import entry_for, live_entry, retired_entry, write_bytes_atomic

SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa")


class AgeSink(SecretSink):
    """Secrets in an age-encrypted JSON object keyed by resource address (mode 0600)."""

    def __init__(self, path: Path, recipients: Sequence[str], identity_file: Path | None = None):
        self.path = Path(path)
        self.recipient_texts = [str(r).strip() for r in recipients]
        self.identity_file = Path(identity_file) if identity_file else None
        self._lock = threading.Lock()
        self._ours: dict[str, Any] | None = None  # this run's document when there is no identity
        self._target: Path | None = None  # where this run writes when there is no identity

    def describe(self) -> str:
        return f"{self._target or self.path} (age, {len(self.recipient_texts)} recipient(s))"

    def preflight(self) -> None:
        self._recipients()
        if self.identity_file is not None:
            self._check_identity_matches()
            self.read()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".probe-", delete=True)  # noqa: SIM115
            probe.close()
        except OSError as error:
            raise SecretSinkError(
                f"age secrets file {self.path} is not writable ({error.strerror}): fix secrets.path or its permissions"
            ) from None

    def read(self) -> dict[str, Any]:
        """The decrypted document ({} when the file doesn't exist yet); needs `identity_file`."""
        if self.identity_file is None:
            raise SecretSinkError(
                f"can't read age secrets file {self.path}: "
                "set secrets.identity_file to an age identity that can decrypt it"
            )
        try:
            ciphertext = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise SecretSinkError(f"can't read age secrets file {self.path} ({error.strerror})") from None
        try:
            text = pyrage.decrypt(ciphertext, self._identities()).decode("utf-8")
        except pyrage.DecryptError as error:
            raise SecretSinkError(
                f"secrets.identity_file {self.identity_file} can't decrypt {self.path} ({error}): "
                "use the identity of one of its recipients, or move the file away"
            ) from None
        except UnicodeDecodeError:
            text = ""
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise SecretSinkError(
                f"age secrets file {self.path} does not hold a JSON object: restore it or move it away"
            )
        return document

    def deliver(self, secret: GeneratedSecret) -> None:
        with self._lock:
            target: Path | None
            if self.identity_file is not None:
                document, target = self.read(), self.path
            else:
                if self._ours is None:
                    self._ours, self._target = {}, self._fresh_target()
                document, target = self._ours, self._target
            assert target is not None
            document[secret.address] = entry_for(secret, document.get(secret.address))
            self._write(document, target)

    def retire(self, address: str) -> None:
        """With `identity_file`: re-encrypt `path` with the entry retired (no secret, `retired_at`).
        Without it keyform can't read the file, so the entry stays until someone merges by hand."""
        if self.identity_file is None:
            return
        with self._lock:
            document = self.read()
            if live_entry(document.get(address)):
                document[address] = retired_entry(document[address], datetime.now(UTC))
                self._write(document, self.path)

    def move(self, source: str, target: str) -> None:
        """With `identity_file`: re-encrypt `path` with the entry under its new address (one atomic
        write). Without it keyform can't read the file: the entry stays under the old address."""
        if self.identity_file is None:
            return
        with self._lock:
            document = self.read()
            if source in document:
                document[target] = document.pop(source)
                self._write(document, self.path)

    def _write(self, document: dict[str, Any], target: Path) -> None:
        plaintext = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
        ciphertext = pyrage.encrypt(plaintext, self._recipients())
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_bytes_atomic(target, ciphertext, mode=0o600)
        except OSError as error:
            raise SecretSinkError(f"could not write age secrets file {target} ({error.strerror})") from None

    def _fresh_target(self) -> Path:
        """`path` if it doesn't exist, else an unused sibling named with the current UTC time."""
        if not self.path.exists():
            return self.path
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        stem = self.path.name.removesuffix(".age")
        for counter in range(1000):
            name = f"{stem}.{stamp}{f'-{counter}' if counter else ''}.age"
            candidate = self.path.with_name(name)
            if not candidate.exists():
                return candidate
        raise SecretSinkError(f"too many age secrets files beside {self.path}: merge them and move them away")

    def _recipients(self) -> list[Any]:
        if not self.recipient_texts:
            raise SecretSinkError("secrets.recipients is empty: list at least one age1... or ssh-ed25519 public key")
        return [parse_recipient(text, index) for index, text in enumerate(self.recipient_texts)]

    def _identities(self) -> list[Any]:
        assert self.identity_file is not None
        return load_identities(self.identity_file)

    def _check_identity_matches(self) -> None:
        publics = {str(i.to_public()) for i in self._identities() if isinstance(i, x25519.Identity)}
        if publics and not publics & set(self.recipient_texts):
            raise SecretSinkError(
                f"secrets.identity_file {self.identity_file} is for {', '.join(sorted(publics))}, which is not among "
                "secrets.recipients: later runs couldn't decrypt the file; add its public key to recipients"
            )


def parse_recipient(text: str, index: int = 0) -> Any:
    """An age recipient from an `age1...` X25519 key or an `ssh-ed25519`/`ssh-rsa` public key."""
    where = f"secrets.recipients[{index}] ({text[:24]}{'...' if len(text) > 24 else ''})"
    try:
        if text.startswith("age1"):
            return x25519.Recipient.from_str(text)
        if text.split(" ", 1)[0] in SSH_KEY_TYPES:
            return ssh.Recipient.from_str(text)
    except pyrage.RecipientError as error:
        raise SecretSinkError(f"{where} is not a valid age recipient ({error}): copy the public key again") from None
    raise SecretSinkError(f"{where} is not an X25519 (age1...) or ssh-ed25519/ssh-rsa public key")


def load_identities(path: Path) -> list[Any]:
    """The identities in an age identity file, or one unencrypted OpenSSH private key."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SecretSinkError(f"can't read secrets.identity_file {path} ({error.strerror})") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return [ssh.Identity.from_buffer(data)]
        lines = [line.strip() for line in data.decode("utf-8").splitlines()]
        identities = [x25519.Identity.from_str(line) for line in lines if line.startswith("AGE-SECRET-KEY-")]
    except (pyrage.IdentityError, UnicodeDecodeError, ValueError):
        identities = []
    if not identities:
        raise SecretSinkError(
            f"secrets.identity_file {path} holds no usable identity: use an age-keygen file (AGE-SECRET-KEY-1...) "
            "or an unencrypted OpenSSH private key"
        )
    return identities


def age_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    """The `age` sink's factory (`keyform.secrets.SINKS`)."""
    recipients = options.get("recipients") or []
    if isinstance(recipients, str):
        recipients = [recipients]
    identity = options.get("identity_file")
    return AgeSink(
        beside(base_dir, options.get("path", ".keyform/secrets.json.age")),
        [str(r) for r in recipients],
        beside(base_dir, identity) if identity else None,
    )
