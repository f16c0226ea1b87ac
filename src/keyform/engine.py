"""The pipeline every engine command runs: load -> read live -> plan -> safety -> render / save | apply.

`session()` loads the desired state and opens its provider as a `Run`; with `prefetch`, the live
read starts from the root file's `provider:` section and runs while the rest loads (the read
waits on the API, loading is CPU work). A `Run` plans (the one way a plan is made: diff, risks,
safety) and applies a `Plan` (the one thing apply takes). The caller reports through the
`keyform.ui.UI` in its `Settings`; nothing here prints, prompts or exits.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from keyform.apply import ApplyExecutor, ApplyReport, DryRunExecutor
from keyform.config.peek import peek_provider_settings
from keyform.config.root import find_root
from keyform.contract import LiveResource, Provider
from keyform.errors import ApprovalNeededError, KeyformError, PlanFileError, StalePlanError
from keyform.journal import AppliedPlans, Journal
from keyform.locking import apply_lock
from keyform.model import PluginConfig
from keyform.plan.build import PlanResult, make_plan, secret_problem
from keyform.plan.plan import Plan
from keyform.plan.render import render
from keyform.plan.render_json import plan_json
from keyform.plan.safety import check_safety
from keyform.progress import ApplyProgress
from keyform.providers.registry import load_provider
from keyform.report import format_report
from keyform.secrets.base import SecretSink
from keyform.secrets.file_sink import write_bytes_atomic
from keyform.settings import Settings
from keyform.ui import UI, NotInteractiveError
from keyform.workspace import Workspace, open_workspace, register_config_secrets

__all__ = [
    "TARGETED_WARNING",
    "PlanRequest",
    "Run",
    "Settings",
    "apply_saved",
    "converge",
    "format_report",
    "load",
    "read_plan",
    "render",
    "save_plan",
    "session",
]


TARGETED_WARNING = (
    "Warning: a targeted plan: it covers only the targeted resources and what they need; the rest of the "
    "desired state may not match the live state. This is for exceptional cases (recovering from a mistake, "
    "working around a limitation), not routine use: plan the whole desired state afterwards."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRequest:
    """What to plan besides converging everything."""

    targets: Collection[str] = ()  # only these addresses (and the creates they need)
    replace: Collection[str] = ()  # a new secret for these now
    allow_unsafe: bool = False  # plan even if the safety thresholds are exceeded (never the invariants)
    forget: Collection[str] = ()  # stop managing these (undeclared) resources instead of deleting them
    destroy: bool = False  # plan deleting every managed resource (safety checks apply)


def load(settings: Settings) -> Workspace:
    """The desired state, validated; the redactor learns its secrets; a killed apply's sink writes are finished."""
    environ = settings.environ if settings.environ is not None else os.environ
    workspace = open_workspace(settings.config, settings.directory, environ=environ)
    register_config_secrets(workspace.state, settings.redactor)
    workspace.recover_sink()  # plan and apply never start from a sink a killed apply left unfolded
    return workspace


@contextmanager
def session(settings: Settings, *, prefetch: bool = False) -> Iterator[Run]:
    """Load the desired state and open its provider; with `prefetch`, the live read overlaps loading."""
    early = _start_read(settings) if prefetch else None
    try:
        workspace = load(settings)
        if early is not None and not _same_settings(early.settings, workspace.state.provider):
            early.abandon()  # the peek saw other settings than the load: read again with the loaded ones
            early = None
        provider = early.provider if early is not None else load_provider(workspace.state.provider)
        provider.use_directory(workspace.base_dir)
        provider.use_ui(settings.ui)
    except BaseException:
        if early is not None:
            early.abandon()
        raise
    try:
        yield Run(settings, workspace, provider, early.reading if early is not None else None)
    finally:
        if early is not None:
            early.pool.shutdown(wait=True, cancel_futures=True)  # never close a provider under a read
        provider.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class _EarlyRead:
    """A live read started from the peeked provider settings, before the desired state is loaded."""

    settings: PluginConfig
    provider: Provider
    pool: ThreadPoolExecutor
    reading: Future[dict[str, LiveResource]]

    def abandon(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)  # a read under way finishes before its provider closes
        self.provider.close()


def _start_read(settings: Settings) -> _EarlyRead | None:
    """Start reading the live state from the root file's `provider:` section, or None when it can't
    be read alone (the full load then reports the problem with its position)."""
    environ = settings.environ if settings.environ is not None else os.environ
    try:
        root = find_root(settings.config, settings.directory)
        peeked = peek_provider_settings(root, environ)
        if peeked is None:
            return None
        provider = load_provider(peeked)
    except KeyformError:
        return None
    provider.use_directory(root.parent)
    provider.use_ui(settings.ui)
    try:
        provider.prepare_read()
    except KeyformError:
        provider.close()
        return None  # the read after the load reports it, after any error in the files
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyform-read")
    return _EarlyRead(settings=peeked, provider=provider, pool=pool, reading=pool.submit(provider.read))


def _same_settings(peeked: PluginConfig, loaded: PluginConfig) -> bool:
    return peeked.type == loaded.type and dict(peeked.options) == dict(loaded.options)


class Run:
    """One loaded desired state and its open provider: the steps of the pipeline."""

    def __init__(
        self,
        settings: Settings,
        workspace: Workspace,
        provider: Provider,
        reading: Future[dict[str, LiveResource]] | None = None,
    ):
        self.settings = settings
        self.ui = settings.ui
        self.workspace = workspace
        self.provider = provider
        self._reading = reading
        keyform_dir = workspace.base_dir / ".keyform"
        self.journal = Journal(keyform_dir / "journal.jsonl")
        self.applied_plans = AppliedPlans(keyform_dir / "applied-plans")
        self._sink: SecretSink | None = None

    def sink(self) -> SecretSink:
        """The configured sink, opened once (what a killed apply left half done is finished first)."""
        if self._sink is None:
            self._sink = self.workspace.sink()
        return self._sink

    def read_live(self) -> dict[str, LiveResource]:
        """The live state: the read started with the session, or a new one."""
        reading, self._reading = self._reading, None
        return reading.result() if reading is not None else self.provider.read()

    def plan(self, request: PlanRequest = PlanRequest(), *, reissue: Collection[str] = ()) -> PlanResult:
        """Diff the desired state against the live state, assess the risks, refuse the plan if unsafe.
        `reissue`: addresses whose secret an interrupted apply may not have delivered."""
        state = self.workspace.state
        if self._reading is not None:
            state.resource_map  # noqa: B018 -- the diff's desired side, built while the read runs
        result = make_plan(
            state,
            self.provider,
            targets=request.targets,
            replace=request.replace,
            reissue=reissue,
            forget=request.forget,
            destroy=request.destroy,
            live=self.read_live(),
        )
        check_safety(
            result.plan,
            result.live,
            state.safety,
            provider=self.provider,
            identity=self.provider.identity(),
            allow_unsafe=request.allow_unsafe,
        )
        return result

    def rotation(self, addresses: Collection[str]) -> PlanRequest:
        """The plan request that gives `addresses` new secrets now; each must have a secret keyform manages."""
        for address in addresses:
            problem = secret_problem(self.workspace.state, address, verb="rotate")
            if problem:
                raise KeyformError(f"rotate {address}: {problem}")
        return PlanRequest(targets=addresses, replace=addresses)

    @contextmanager
    def locked(self, *, timeout: float = 0.0) -> Iterator[None]:
        """Hold the organisation's apply lock (waiting up to `timeout` seconds for another apply)."""
        with apply_lock(self.provider, timeout=timeout, on_wait=lambda holder: self.ui.err(f"Waiting: {holder}")):
            yield

    def recover(self) -> set[str]:
        """Addresses whose new secret an interrupted or failed apply may not have delivered (plan
        them with `reissue` and they get a fresh one)."""
        in_flight = self.journal.in_flight()
        if in_flight:
            self.ui.err(
                f"An earlier apply stopped with {len(in_flight)} change(s) in flight: "
                + ", ".join(f"{r.get('action')} {r.get('address')}" for r in in_flight)
            )
        state = self.workspace.state
        addresses = {
            str(record.get("address"))
            for record in [*in_flight, *self.journal.failed_with_secret()]
            if record.get("secret") and state.has_secret(str(record.get("address", "")))
        }
        if addresses:
            self.ui.err(
                f"Issuing fresh secrets for {', '.join(sorted(addresses))}: an earlier apply asked for them and did "
                "not finish, so none is lost."
            )
        return addresses

    def require_person(self, plan: Plan) -> None:
        """A provider without a management API needs a person at a terminal to apply changes."""
        if type(self.provider).needs_person and plan.changes and not self.ui.interactive:
            raise NotInteractiveError(
                f"{self.provider.describe()} needs a person: its changes are made by hand in its UI; run "
                "`keyform apply` on a terminal (CI can run `keyform plan` and `keyform verify`)"
            )

    def approve(self, plan: Plan) -> None:
        """Ask whoever runs keyform to approve `plan`; raise unless the answer is yes."""
        try:
            approved = self.ui.confirm("Apply these changes? Only 'yes' is accepted")
        except NotInteractiveError:
            raise ApprovalNeededError("not applying: no terminal to confirm on") from None
        if not approved:
            raise KeyformError("apply cancelled: nothing was changed")

    def apply(self, plan: Plan, *, dry_run: bool = False, parallelism: int | None = None) -> ApplyReport:
        """Carry out `plan` (with `dry_run`, walk it in apply order and change nothing); hold the lock.
        `parallelism`: how many changes run at once (default: the provider's `concurrency` option)."""
        if dry_run:
            progress = ApplyProgress(self.ui, len(plan.changes), bar=False)
            return DryRunExecutor(progress=progress).execute(plan)
        self.require_person(plan)
        manual = type(self.provider).needs_person  # a person makes each change: one at a time, no bar
        progress = ApplyProgress(self.ui, len(plan.changes), bar=not manual)
        concurrency = parallelism or int(self.workspace.state.provider.options.get("concurrency", 4))
        self.journal.open()
        executor = ApplyExecutor(
            self.provider,
            self.sink(),
            self.settings.redactor,
            concurrency=1 if manual else concurrency,
            progress=progress,
            emergency_dir=self.workspace.base_dir / ".keyform",  # 0700, ignored by git
            journal=self.journal,
        )
        try:
            with _stop_on_signals(executor, self.ui):
                return executor.execute(plan)
        finally:
            progress.close()
            self.journal.close()

    def saved_plan(self, path: Path) -> tuple[Plan, str]:
        """The plan saved at `path` and its id, refused (StalePlanError) if it was made for another
        desired state, sink or API, or was applied here already."""
        the_plan = read_plan(path)
        plan_id = hashlib.sha256(path.read_bytes()).hexdigest()
        when = self.applied_plans.applied_at(plan_id)
        if when is not None:
            raise StalePlanError(
                f"{path} was already applied ({when}): a saved plan applies once", path=path, applied_at=when
            )
        self._check_binding(the_plan, path)
        planned_for = the_plan.meta.get("target")
        if planned_for != self.provider.describe():
            raise StalePlanError(
                f"{path} was planned against {planned_for}, but provider.url is {self.provider.describe()}: plan again",
                path=path,
            )
        return the_plan, plan_id

    def _check_binding(self, the_plan: Plan, path: Path) -> None:
        """Refuse a saved plan made for another desired state or sink; say when an old file can't be checked."""
        binding = the_plan.meta.get("binding")
        if not isinstance(binding, dict):
            self.ui.err(
                f"{path} was saved by an older keyform: only its provider.url is checked, not its desired state "
                "and sink (plan again to have them checked)"
            )
            return
        current = plan_binding(self.workspace)
        names = {"desired_state": "desired state", "sink": "secrets sink"}
        differs = [name for key, name in names.items() if binding.get(key) != current[key]]
        if differs:
            raise StalePlanError(
                f"{path} was planned for another {' and '.join(differs)} than {self.workspace.root}: apply it where "
                "it was planned, or plan again here",
                path=path,
            )

    def save_plan(self, plan: Plan, path: Path) -> None:
        """Write `plan` to `path`, bound to this desired state and sink (see `plan_binding`)."""
        save_plan(replace(plan, meta={**plan.meta, "binding": plan_binding(self.workspace)}), path)


def converge(
    run: Run,
    request: PlanRequest = PlanRequest(),
    *,
    approved: bool = False,
    dry_run: bool = False,
    lock_timeout: float = 0.0,
    show_plan: bool = True,
    parallelism: int | None = None,
) -> ApplyReport | None:
    """Under the apply lock: plan (fresh secrets for what an interrupted apply may have lost), show
    the plan, ask for approval unless `approved`, apply. None: there was nothing to change."""
    with run.locked(timeout=0 if dry_run else lock_timeout):
        the_plan = run.plan(request, reissue=run.recover()).plan
        if show_plan:
            run.ui.echo(render(the_plan, "text", styled=run.ui.styled))
        if request.targets and not request.forget and set(request.targets) != set(request.replace):
            run.ui.err(TARGETED_WARNING)  # rotate and forget target by design: no warning
        if the_plan.empty:
            return None
        if not dry_run:
            run.require_person(the_plan)
        if not (approved or dry_run):
            run.approve(the_plan)
        return run.apply(the_plan, dry_run=dry_run, parallelism=parallelism)


def apply_saved(
    run: Run,
    path: Path,
    *,
    dry_run: bool = False,
    lock_timeout: float = 0.0,
    show_plan: bool = True,
    parallelism: int | None = None,
) -> ApplyReport:
    """Apply exactly the plan saved at `path`, once, refusing it if it went stale (StalePlanError)."""
    the_plan, plan_id = run.saved_plan(path)
    with run.locked(timeout=0 if dry_run else lock_timeout):
        if run.recover():
            run.ui.err("Run `keyform apply` without a plan file afterwards to re-issue those secrets.")
        if show_plan:
            run.ui.echo(render(the_plan, "text", styled=run.ui.styled))
        if not dry_run:
            run.require_person(the_plan)
            run.applied_plans.record(plan_id)
        return run.apply(the_plan, dry_run=dry_run, parallelism=parallelism)


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan` to `path` as JSON."""
    try:
        write_bytes_atomic(path, plan_json(plan) + b"\n")
    except OSError as error:
        raise PlanFileError(f"can't write plan file {path} ({error.strerror})", path=path, writing=True) from None


def read_plan(path: Path) -> Plan:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise PlanFileError(f"plan file {path} not found", path=path, missing=True) from None
    except (OSError, ValueError) as error:  # orjson.JSONDecodeError (invalid JSON or UTF-8) is a ValueError
        raise PlanFileError(
            f"plan file {path} can't be read as JSON ({error}): make the plan again", path=path
        ) from None
    return Plan.from_dict(data)


SECRET_WORDS = ("token", "secret", "password", "api_key")


def plan_binding(workspace: Workspace) -> dict[str, str]:
    """Digests of what a saved plan was made for besides the API: the resolved desired state and the
    sink's settings (secret-valued options left out). Applied elsewhere, its new secrets would go to
    another project's sink."""

    def digest(value: object) -> str:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
        return hashlib.sha256(data).hexdigest()

    sink = workspace.state.secrets
    settings = {key: value for key, value in sink.options.items() if not any(w in key for w in SECRET_WORDS)}
    return {"desired_state": digest(workspace.state.resource_map), "sink": digest([sink.type, settings])}


@contextmanager
def _stop_on_signals(executor: ApplyExecutor, ui: UI) -> Iterator[None]:
    """SIGINT/SIGTERM: finish the changes in flight, deliver their secrets, start nothing new."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        ui.err(f"\n{name}: finishing the changes in flight, then stopping.")
        executor.stop(f"apply was stopped by {name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
