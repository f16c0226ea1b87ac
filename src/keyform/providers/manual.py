"""The base of providers for systems without a management API (Personio, Predictive Index):
a person makes each change in the system's UI, and keyform keeps the record.

The live state is what keyform last recorded: a JSON file beside keyform.yaml
(`keyform-state/<type>.json`, `state_file` option). It is meant to be committed: it is the
reviewed record of which credential exists with which access, `keyform plan` in a pull request
diffs against it, and it holds no secret (only the canonical attributes, each secret's public id
and when it was made). `apply` walks a person through each change's steps (`manual_steps`) on a
terminal, reads each new secret through a hidden prompt into the sink (returned as the change's
`GeneratedSecret`), and records the change once the person has made it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    LiveResource,
    Provider,
    SecretInfo,
    Step,
    kind_of,
)
from keyform.errors import ProviderError
from keyform.manual import WalkThrough
from keyform.secrets.file_sink import write_text_atomic
from keyform.ui import UI

RECORD_VERSION = 1


class ManualProvider(Provider):
    """A provider whose changes a person makes by hand; subclasses declare kinds and steps."""

    needs_person: ClassVar[bool] = True
    type_name: ClassVar[str] = ""  # provider.type, and the record's file name
    title: ClassVar[str] = ""  # the product's name in messages ("Personio")

    def __init__(self, options: Mapping[str, Any]):
        self.options = dict(options)
        self._directory = Path()
        self._record_lock = threading.Lock()
        self._walk = WalkThrough()

    # -- the record -------------------------------------------------------------------------------

    def use_directory(self, directory: Path) -> None:
        self._directory = directory

    def use_ui(self, ui: UI) -> None:
        self._walk.ui = ui

    @property
    def record_path(self) -> Path:
        return self._directory / str(self.options.get("state_file") or self._default_record)

    @property
    def _default_record(self) -> str:
        return f"keyform-state/{self.type_name}.json"

    def _load(self) -> dict[str, Any]:
        path = self.record_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ProviderError(
                f"{path}: can't read keyform's record of {self.title} ({error}): restore it from git"
            ) from None
        resources = data.get("resources") if isinstance(data, dict) else None
        if not isinstance(resources, dict) or data.get("provider") != self.type_name:
            raise ProviderError(f"{path} is not keyform's record of {self.title}: restore it from git")
        return resources

    def _save(self, resources: Mapping[str, Any]) -> None:
        path = self.record_path
        document = {"version": RECORD_VERSION, "provider": self.type_name, "resources": dict(sorted(resources.items()))}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        except OSError as error:
            raise ProviderError(
                f"can't write keyform's record {path} ({error.strerror}): check the directory"
            ) from None

    def read(self) -> dict[str, LiveResource]:
        live = {}
        for address, entry in self._load().items():
            secrets = tuple(
                SecretInfo(str(s["id"]), datetime.fromisoformat(str(s["created_at"]).replace("Z", "+00:00")))
                for s in entry.get("secrets", ())
            )
            attributes = entry.get("attributes") or {}
            live[address] = LiveResource(address, attributes, id=address, managed=True, secrets=secrets)
        for kind in type(self).kinds:  # a singleton nobody recorded yet: every setting unknown
            if kind.singleton and kind.name not in live:
                live[kind.name] = LiveResource(kind.name, {}, id=kind.name, managed=True)
        return live

    # -- apply ------------------------------------------------------------------------------------

    def generates_secret(self, change: Change) -> bool:
        if change.action == Action.ROTATE:
            return change.details.get("phase") != "revoke"
        if change.action not in (Action.CREATE, Action.REPLACE, Action.UPDATE):
            return False
        return self.secret_fields(change) != () and self._secret_added(change)

    def _secret_added(self, change: Change) -> bool:
        spec = kind_of(type(self), change.kind)
        if spec is None or spec.secret is None:
            return False
        if not spec.secret.optional:
            return change.action in (Action.CREATE, Action.REPLACE)
        return self.secret_enabled(change.after) is True and self.secret_enabled(change.before) is not True

    def secret_enabled(self, attributes: Mapping[str, Any] | None) -> bool | None:
        """For a kind with an optional secret: whether the attributes declare it (None: not at all)."""
        return None

    def secret_fields(self, change: Change) -> tuple[str, ...]:
        """The parts of the secret a change makes, in the order the person enters them."""
        return ()

    def secret_shape(self, change: Change) -> tuple[str, tuple[str, ...]]:
        """The GeneratedSecret type of the change's secret and its public fields."""
        return "secret", ()

    def apply(self, change: Change) -> ApplyOutcome:
        steps = self.manual_steps(change)
        title = f"{self.title}: {change.action.value} {change.address}"
        values = self._walk(title, steps) if steps else {}
        now = datetime.now(UTC).replace(microsecond=0)
        secret = self._secret(change, values, now) if self.generates_secret(change) else None
        with self._record_lock:
            resources = self._load()
            self._record(resources, change, secret, now)
            self._save(resources)
        return ApplyOutcome(secret=secret)

    def _secret(self, change: Change, values: Mapping[str, str], now: datetime) -> GeneratedSecret:
        fields = self.secret_fields(change)
        missing = [name for name in fields if not values.get(name)]
        if missing:  # a provider bug: its steps must ask for every part
            raise ProviderError(f"{change.address}: the steps did not ask for {', '.join(missing)}")
        kind, public = self.secret_shape(change)
        secret_id = self.secret_id(change, values, now)
        retiring = change.details.get("old_secret") if change.details.get("phase") == "add" else None
        return GeneratedSecret(
            address=change.address,
            type=kind,
            fields={name: values[name] for name in fields},
            secret_id=secret_id,
            created_at=now,
            retiring=retiring,
            public=public,
        )

    def secret_id(self, change: Change, values: Mapping[str, str], now: datetime) -> str:
        """A public id for a new secret (never derived from the secret itself)."""
        return f"{change.name}@{now.strftime('%Y%m%dT%H%M%SZ')}"

    def _record(self, resources: dict[str, Any], change: Change, secret: GeneratedSecret | None, now: datetime) -> None:
        address = change.address
        if change.action == Action.DELETE:
            resources.pop(address, None)
            return
        entry = dict(resources.get(address) or {"attributes": {}, "secrets": []})
        if change.after is not None:
            entry["attributes"] = dict(change.after)
        secrets = list(entry.get("secrets") or [])
        phase = change.details.get("phase")
        if change.action == Action.ROTATE and phase == "revoke":
            old = change.details.get("old_secret")
            secrets = [s for s in secrets if s.get("id") != old]
        elif secret is not None:
            if phase != "add":  # immediate, reissue, create: the new secret is the only one
                secrets = []
            secrets.append({"id": secret.secret_id, "created_at": _stamp(secret.created_at)})
        elif self.secret_enabled(change.after) is not True and self.secret_enabled(change.before) is True:
            secrets = []
        entry["secrets"] = secrets
        entry["recorded_at"] = _stamp(now)
        resources[address] = entry

    def describe(self) -> str:
        return f"{self.title} (changed by hand; record {self.options.get('state_file') or self._default_record})"


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


__all__ = ["ManualProvider", "Step"]
