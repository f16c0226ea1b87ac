"""Executors: take a Plan and carry it out (ApplyExecutor) or only walk it (DryRunExecutor).

Apply runs the plan phase by phase (see `keyform.plan.plan.ApplyOrder`); changes within a phase run
concurrently up to a limit, changes at one address run in order. A failed change stops the
changes that depend on it and nothing else. A secret the API returns is in the sink before the
change counts as done; if the sink fails, the secret goes to an emergency file (0600, in the
`.keyform/` directory git ignores) and apply stops. A delete retires the resource's sink entry.

A secret keyform makes itself (`SecretSource.KEYFORM`) is written to the sink, marked pending,
before the provider sets it, and confirmed after: at no point is a secret live that the sink does
not hold (docs/providers.md, "Keyform-generated secrets", lists the crash points).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    GeneratedSecret,
    Kind,
    Provider,
    SecretSource,
    StaleChangeError,
    UnreachableError,
    kind_of,
)
from keyform.errors import KeyformError, SecretSinkError
from keyform.journal import Journal
from keyform.plan.plan import ApplyOrder, Plan
from keyform.secrets.base import SecretSink
from keyform.secrets.file_sink import KEYFORM_DIR, entry_for, gitignore_pattern, ignore_in_git, write_private_file
from keyform.secrets.generate import new_secret
from keyform.secrets.redaction import Redactor

APPLIED, FAILED, SKIPPED, STALE, PLANNED = "applied", "failed", "skipped", "stale", "planned"


@dataclass(frozen=True)
class ChangeResult:
    """What happened to one change."""

    change: Change
    status: str
    message: str = ""
    secret_delivered: bool = False


@dataclass
class ApplyReport:
    """Every change's result, in plan order."""

    results: list[ChangeResult] = field(default_factory=list)
    emergency_file: Path | None = None
    stopped: str = ""  # why apply started no further change ("": it did not stop early)
    unreachable: bool = False  # it stopped because the credential API could not be reached

    @property
    def ok(self) -> bool:
        return all(r.status in (APPLIED, PLANNED) for r in self.results) and self.emergency_file is None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


Progress = Callable[[ChangeResult], None]


class DryRunExecutor:
    """Walks the plan in apply order and reports each change as planned; touches nothing."""

    def __init__(self, progress: Progress | None = None):
        self.progress = progress

    def execute(self, plan: Plan) -> ApplyReport:
        report = ApplyReport()
        for change in plan.changes:
            result = ChangeResult(change, PLANNED)
            report.results.append(result)
            if self.progress:
                self.progress(result)
        return report


class ApplyExecutor:
    """Applies a plan through a provider, delivering every new secret to the sink first."""

    def __init__(
        self,
        provider: Provider,
        sink: SecretSink,
        redactor: Redactor,
        *,
        concurrency: int = 4,
        progress: Progress | None = None,
        emergency_dir: Path = Path(),
        journal: Journal | None = None,
    ):
        self.provider = provider
        self.sink = sink
        self.redactor = redactor
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.emergency_dir = emergency_dir
        self.journal = journal
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = ""
        self._unreachable = False
        self._emergency_file: Path | None = None

    def stop(self, reason: str) -> None:
        """Start no new change; changes in flight finish and deliver their secrets."""
        self._stop_reason = self._stop_reason or reason
        self._stop.set()

    def execute(self, plan: Plan) -> ApplyReport:
        self.sink.preflight()
        try:
            return self._execute(plan)
        finally:
            self.sink.close()

    def _execute(self, plan: Plan) -> ApplyReport:
        report = ApplyReport()
        results: dict[int, ChangeResult] = {}
        failed: set[str] = set()
        indexed = list(enumerate(plan.changes))
        order = ApplyOrder.of(self.provider)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="keyform-apply") as pool:
            for _, in_phase in groupby(indexed, key=lambda item: order.phase(item[1])):
                chains = _chains_by_address(list(in_phase))
                for chain_results in pool.map(lambda chain: self._run_chain(chain, failed, plan), chains):
                    for index, result in chain_results:
                        results[index] = result
                        if result.status != APPLIED:
                            failed.add(result.change.address)
        report.results = [results[i] for i in range(len(plan.changes))]
        report.emergency_file = self._emergency_file
        report.stopped = self._stop_reason if self._stop.is_set() else ""
        report.unreachable = self._unreachable
        return report

    def _run_chain(
        self, chain: list[tuple[int, Change]], failed: set[str], plan: Plan
    ) -> list[tuple[int, ChangeResult]]:
        """Changes at one address, in order; each gets the etag the previous one left."""
        out: list[tuple[int, ChangeResult]] = []
        etag: str | None = None
        for index, change in chain:
            if etag is not None:
                change = change._replace(etag=etag)
            result, new_etag = self._run_one(index, change, failed, plan)
            out.append((index, result))
            if self.progress:
                self.progress(result)
            if result.status != APPLIED:
                failed.add(change.address)
                etag = None
                continue
            etag = new_etag
        return out

    def _run_one(self, seq: int, change: Change, failed: set[str], plan: Plan) -> tuple[ChangeResult, str | None]:
        """Apply one change, journalled before and after; returns its result and the resource's new etag."""
        if self._stop.is_set():
            return ChangeResult(change, SKIPPED, f"not started: {self._stop_reason}"), None
        blocked = sorted(_dependencies(change, plan, type(self.provider).kinds) & failed)
        if blocked:
            return ChangeResult(change, SKIPPED, f"depends on {', '.join(blocked)}, which did not apply"), None
        if self.journal:
            self.journal.begin(seq, change, secret=self.provider.generates_secret(change))
        result, etag = self._attempt(change)
        if self.journal:
            self.journal.end(seq, change, result.status)
        return result, etag

    def _attempt(self, change: Change) -> tuple[ChangeResult, str | None]:
        try:
            made = self._made_here(change)
        except KeyformError as error:  # the kind declares too weak a secret
            return ChangeResult(change, FAILED, self.redactor.redact(str(error))), None
        if made is not None:
            refused = self._write_ahead(change, made)
            if refused is not None:
                return refused, None
        renamed = self._renamed(change)
        if renamed:
            refused = self._move_entry(change, renamed, change.address)
            if refused is not None:
                return refused, None
        try:
            outcome = self._apply(change, made)
        except (StaleChangeError, KeyformError) as error:
            if renamed and isinstance(error, StaleChangeError):  # surely not renamed: the entry goes back
                self._move_entry(change, change.address, renamed)
            # any other failure may have renamed it: the entry stays at the new address, where the
            # next plan (the `moved:` entry is still there) renames the resource again if it must
            return self._failure(change, error), None
        secret = outcome.secret if made is None else replace(outcome.secret or made, pending=False)
        if secret is not None:
            return self._deliver(change, secret), outcome.etag
        if change.action == Action.DELETE:
            return self._retire(change), outcome.etag
        return ChangeResult(change, APPLIED), outcome.etag

    def _failure(self, change: Change, error: StaleChangeError | KeyformError) -> ChangeResult:
        """The result of a change whose provider call raised `error`."""
        if isinstance(error, StaleChangeError):
            return ChangeResult(change, STALE, self.redactor.redact(f"changed since the plan: {error.moved}"))
        if isinstance(error, UnreachableError):
            # every request retries a refused connection; one that still fails means the API is gone:
            # the remaining changes would each wait out the same retries for the same answer
            self._unreachable = True
            self.stop(f"the credential API at {self.provider.describe()} is unreachable")
        return ChangeResult(change, FAILED, self.redactor.redact(str(error)))

    @staticmethod
    def _renamed(change: Change) -> str:
        """The address a change renames its resource from in place ("": it renames nothing)."""
        if change.action in (Action.UPDATE, Action.ADOPT):
            return str(change.details.get("moved_from") or "")
        return ""

    def _move_entry(self, change: Change, source: str, target: str) -> ChangeResult | None:
        """Move a renamed resource's sink entry (None: done). Before the rename, so a run killed
        between the two finds the entry at the new address, where the next plan renames to."""
        try:
            with nullcontext() if self.sink.thread_safe else self._lock:
                self.sink.move(source, target)
        except SecretSinkError as error:
            message = f"not renamed: its sink entry could not be moved from {source} first ({error})"
            return ChangeResult(change, FAILED, self.redactor.redact(message))
        return None

    def _apply(self, change: Change, made: GeneratedSecret | None) -> ApplyOutcome:
        if change.action == Action.FORGET:
            return self.provider.release(change)
        if made is None:
            return self.provider.apply(change)
        return self.provider.apply_with_secret(change, made)

    def _made_here(self, change: Change) -> GeneratedSecret | None:
        """The secret keyform makes for this change, if its kind's secrets are keyform's to make."""
        kind = kind_of(type(self.provider), change.kind)
        if kind is None or kind.secret is None or kind.secret.source != SecretSource.KEYFORM:
            return None
        return new_secret(change, kind.secret) if self.provider.generates_secret(change) else None

    def _write_ahead(self, change: Change, secret: GeneratedSecret) -> ChangeResult | None:
        """Put a secret keyform made into the sink, pending, before the system gets it (None: done)."""
        self.redactor.add(*secret.values())
        try:
            with nullcontext() if self.sink.thread_safe else self._lock:
                self.sink.deliver(secret)
        except SecretSinkError as error:
            message = f"not applied: its new secret could not be written to the sink first ({error})"
            return ChangeResult(change, FAILED, self.redactor.redact(message))
        return None

    def _deliver(self, change: Change, secret: GeneratedSecret) -> ChangeResult:
        self.redactor.add(*secret.values())
        try:
            with nullcontext() if self.sink.thread_safe else self._lock:
                self.sink.deliver(secret)
        except SecretSinkError as error:
            path = self._save_emergency(secret)
            self.stop(f"a new secret could not be delivered; it is in {path}")
            return ChangeResult(
                change,
                FAILED,
                self.redactor.redact(
                    f"applied, but the new secret could not be delivered ({error}); "
                    f"it was saved to {path} (mode 0600): move it to its destination, delete the file, "
                    "fix the sink and run apply again"
                ),
            )
        return ChangeResult(change, APPLIED, secret_delivered=True)

    def _retire(self, change: Change) -> ChangeResult:
        """A deleted resource's secret died with it: the sink marks its entry retired."""
        try:
            with nullcontext() if self.sink.thread_safe else self._lock:
                self.sink.retire(change.address)
        except SecretSinkError as error:
            return ChangeResult(
                change,
                FAILED,
                self.redactor.redact(
                    f"deleted, but its entry in the sink could not be marked retired ({error}): "
                    "remove the entry by hand, or keyform verify keeps reporting it"
                ),
            )
        return ChangeResult(change, APPLIED)

    def _save_emergency(self, secret: GeneratedSecret) -> Path:
        with self._lock:
            path = self._emergency_file
            if path is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                path = self.emergency_dir / f"keyform-emergency-secrets-{stamp}.json"
                _keep_out_of_git(path)
                self._emergency_file = path
            document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            document[secret.address] = entry_for(secret, None)
            write_private_file(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
            return path


def _keep_out_of_git(path: Path) -> None:
    """Create the emergency file's directory (0700) and make git ignore the file before it exists."""
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # never lose the secret over an ignore rule: the file is written regardless
        ignore_in_git(directory, [f"/{gitignore_pattern(path.name)}"], own=directory.name == KEYFORM_DIR)


def _chains_by_address(items: Iterable[tuple[int, Change]]) -> list[list[tuple[int, Change]]]:
    chains: dict[str, list[tuple[int, Change]]] = {}
    for index, change in items:
        chains.setdefault(change.address, []).append((index, change))
    return list(chains.values())


def _dependencies(change: Change, plan: Plan, kinds: Iterable[Kind]) -> set[str]:
    """Addresses of earlier changes this one needs: what it references (the roles it uses), or,
    for a delete of a referenced resource (a role), the changes that stop referencing it."""
    by_name = {kind.name: kind for kind in kinds}
    kind = by_name.get(change.kind)
    if kind is None:
        return set()
    needed = {
        by_name[target].address(name)
        for attribute, target in kind.references.items()
        if target in by_name
        for name in _names((change.after or {}).get(attribute))
    }
    if change.action == Action.DELETE:
        needed |= {
            other.address
            for other in plan.changes
            if any(
                target == change.kind and change.name in _names((other.before or {}).get(attribute))
                for attribute, target in _references(by_name.get(other.kind))
            )
        }
    return needed


def _references(kind: Kind | None) -> Iterable[tuple[str, str]]:
    return kind.references.items() if kind is not None else ()


def _names(value: object) -> Iterable[str]:
    if isinstance(value, str):
        return (value,)
    return value if isinstance(value, list | tuple) else ()
