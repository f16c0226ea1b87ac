"""The main job as library calls: load -> plan (+ safety) -> render / save -> apply -> report."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keyform.errors import KeyformError, StalePlanError
from keyform.process import bulk_work

# Planning, loading and progress modules are imported where they are used: a plan starts its
# live read before they are needed, and imports them while the read is under way.
if TYPE_CHECKING:
    from keyform.apply import ApplyExecutor, ApplyReport
    from keyform.cli import GlobalOptions
    from keyform.contract import Provider
    from keyform.journal import AppliedPlans, Journal
    from keyform.plan.build import PlanResult
    from keyform.plan.plan import Plan
    from keyform.workspace import Workspace


@contextmanager
def _prompt_thread_switches() -> Iterator[None]:
    """While the live read overlaps loading: let the reading thread take each response as it
    arrives, instead of waiting up to 5 ms (Python's default switch interval) for the loader."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def load(options: GlobalOptions) -> Workspace:
    from keyform.workspace import open_workspace, register_config_secrets

    with bulk_work():
        workspace = open_workspace(options.config, options.directory)
    register_config_secrets(workspace.state, options.redactor)
    workspace.recover_sink()  # plan and apply never start from a sink a killed apply left unfolded
    return workspace


def plan(
    workspace: Workspace, *, targets: Collection[str] = (), replace: Collection[str] = (), allow_unsafe: bool = False
) -> PlanResult:
    """Read live state, build the plan and refuse it if unsafe."""
    with workspace.provider() as provider:
        return _checked_plan(workspace, provider, allow_unsafe, targets=targets, replace=replace)


def _checked_plan(workspace: Workspace, provider: Provider, allow_unsafe: bool, **planning: Any) -> PlanResult:
    """make_plan, then the safety checks (which need the identity the read found): the one way a plan is made."""
    from keyform.plan.build import make_plan
    from keyform.plan.safety import check_safety

    with bulk_work():
        result = make_plan(workspace.state, provider, **planning)
    identity = provider.identity()
    check_safety(
        result.plan,
        result.live,
        workspace.state.safety,
        provider=provider,
        identity=identity,
        allow_unsafe=allow_unsafe,
    )
    return result


def load_and_plan(
    options: GlobalOptions,
    *,
    targets: Collection[str] = (),
    replace: Collection[str] = (),
    allow_unsafe: bool = False,
) -> tuple[Workspace, PlanResult]:
    """Load the desired state while the live state is read: the read needs only the provider settings.

    The live read waits on the API, loading is CPU work; overlapping them makes a large plan cost
    little more than the read. If the peeked settings differ from the loaded ones, the read is redone.
    """
    from keyform.config.peek import peek_provider
    from keyform.config.root import find_root
    from keyform.model import PluginConfig
    from keyform.providers.registry import load_provider

    root = find_root(options.config, options.directory)
    peeked = peek_provider(root, os.environ)
    if peeked is None or not isinstance(peeked.get("type"), str):
        workspace = load(options)
        return workspace, plan(workspace, targets=targets, replace=replace, allow_unsafe=allow_unsafe)
    settings = PluginConfig(peeked["type"], {key: value for key, value in peeked.items() if key != "type"})
    try:
        provider = load_provider(settings)
        provider.use_directory(root.parent)
    except KeyformError:
        workspace = load(options)  # reports the problem with its position
        return workspace, plan(workspace, targets=targets, replace=replace, allow_unsafe=allow_unsafe)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyform-prefetch")
    try:
        with bulk_work(), _prompt_thread_switches():
            reading = pool.submit(provider.read)
            workspace = load(options)
            workspace.state.resource_map  # noqa: B018 -- the diff's desired side, built while the read runs
            loaded = workspace.state.provider
            same = loaded.type == settings.type and dict(loaded.options) == dict(settings.options)
            live = reading.result() if same else None
            result = _checked_plan(workspace, provider, allow_unsafe, targets=targets, replace=replace, live=live)
            return workspace, result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        provider.close()


def render(plan: Plan, output_format: str, *, checked: Collection[str] = (), styled: bool = True) -> str:
    """The plan in one of FORMATS; `checked` (every address compared) is used by junit, `styled`
    (ANSI styles) by text."""
    with bulk_work():  # a large plan's output is built from many short-lived objects no cycle holds
        if output_format == "junit":
            from keyform.plan.render_junit import render_junit

            return render_junit(plan, checked)
        if output_format == "json":
            from keyform.plan.render_json import render_json

            return render_json(plan)
        if output_format == "markdown":
            from keyform.plan.render_markdown import render_markdown

            return render_markdown(plan)
        from keyform.plan.render_text import render_text

        return render_text(plan, styled=styled)


def save_plan(plan: Plan, path: Path, workspace: Workspace | None = None) -> None:
    """Write `plan` to `path`, bound to `workspace`'s desired state and sink (see `plan_binding`)."""
    from dataclasses import replace

    from keyform.plan.render_json import plan_json
    from keyform.secrets.file_sink import write_bytes_atomic

    if workspace is not None:
        plan = replace(plan, meta={**plan.meta, "binding": plan_binding(workspace)})
    try:
        with bulk_work():
            data = plan_json(plan) + b"\n"
        write_bytes_atomic(path, data)
    except OSError as error:
        raise KeyformError(f"can't write plan file {path} ({error.strerror}): choose another --out path") from None


SECRET_WORDS = ("token", "secret", "password", "api_key")


def plan_binding(workspace: Workspace) -> dict[str, str]:
    """Digests of what a saved plan was made for besides the API: the resolved desired state and the
    sink's settings (secret-valued options left out). Applied elsewhere, its new secrets would go to
    another project's sink."""
    import hashlib

    import orjson

    def digest(value: object) -> str:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
        return hashlib.sha256(data).hexdigest()

    sink = workspace.state.secrets
    settings = {key: value for key, value in sink.options.items() if not any(w in key for w in SECRET_WORDS)}
    return {"desired_state": digest(workspace.state.resource_map), "sink": digest([sink.type, settings])}


def check_plan_binding(the_plan: Plan, planfile: Path, workspace: Workspace, options: GlobalOptions) -> None:
    """Refuse a saved plan made for another desired state or sink; say when an old file can't be checked."""
    binding = the_plan.meta.get("binding")
    if not isinstance(binding, dict):
        options.echo(
            f"{planfile} was saved by an older keyform: only its provider.url is checked, not its desired state "
            "and sink (plan again to have them checked)",
            err=True,
        )
        return
    current = plan_binding(workspace)
    names = {"desired_state": "desired state", "sink": "secrets sink"}
    differs = [name for key, name in names.items() if binding.get(key) != current[key]]
    if differs:
        raise StalePlanError(
            f"{planfile} was planned for another {' and '.join(differs)} than {workspace.root}: apply it where it "
            "was planned, or plan again here"
        )


def read_plan(path: Path) -> Plan:
    import orjson

    from keyform.plan.plan import Plan

    try:
        with bulk_work():
            data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise KeyformError(f"plan file {path} not found: make one with `keyform plan --out {path}`") from None
    except (OSError, ValueError) as error:  # orjson.JSONDecodeError (invalid JSON or UTF-8) is a ValueError
        raise KeyformError(f"plan file {path} can't be read as JSON ({error}): make the plan again") from None
    return Plan.from_dict(data)


def run_apply(
    workspace: Workspace,
    options: GlobalOptions,
    *,
    planfile: Path | None = None,
    auto_approve: bool = False,
    targets: Collection[str] = (),
    replace: Collection[str] = (),
    allow_unsafe: bool = False,
    dry_run: bool = False,
    lock_timeout: float = 0.0,
    show_plan: bool = True,
) -> ApplyReport:
    """Lock, recover, plan (or read PLANFILE), confirm, apply, report; exit 1 unless every change applied."""
    from keyform.apply import ApplyExecutor, ApplyReport, DryRunExecutor
    from keyform.journal import AppliedPlans, Journal
    from keyform.locking import apply_lock
    from keyform.progress import Progress, on_terminal

    journal = Journal(workspace.base_dir / ".keyform" / "journal.jsonl")
    applied_plans = AppliedPlans(workspace.base_dir / ".keyform" / "applied-plans")
    saved = _saved_plan(planfile, workspace, options, applied_plans) if planfile is not None else None
    with (
        workspace.provider() as provider,
        apply_lock(
            provider,
            timeout=0 if dry_run else lock_timeout,
            on_wait=lambda holder: options.echo(f"Waiting: {holder}", err=True),
        ),
    ):
        if saved is not None:
            the_plan = saved[0]
            planned_for = the_plan.meta.get("target")
            if planned_for != provider.describe():
                raise KeyformError(
                    f"{planfile} was planned against {planned_for}, "
                    f"but provider.url is {provider.describe()}: plan again"
                )
        reissue = recover(journal, workspace, options)
        if saved is not None:
            if reissue:
                options.echo("Run `keyform apply` without a plan file afterwards to re-issue those secrets.", err=True)
            options.echo(render(the_plan, "text", styled=options.styled))
            _require_person(provider, the_plan, dry_run)
        else:
            planning = {"targets": targets, "replace": replace, "reissue": reissue}
            the_plan = _checked_plan(workspace, provider, allow_unsafe, **planning).plan
            if show_plan:
                options.echo(render(the_plan, "text", styled=options.styled))
            if the_plan.empty:
                return ApplyReport()
            _require_person(provider, the_plan, dry_run)
            if not (auto_approve or dry_run):
                _confirm(options)
        sink = workspace.sink()
        if dry_run:
            report = DryRunExecutor(progress=Progress(options, len(the_plan.changes), bar=False)).execute(the_plan)
        else:
            manual = type(provider).needs_person  # a person works through each change: no bar over the prompts
            progress = Progress(options, len(the_plan.changes), bar=on_terminal() and not manual)
            journal.open()
            if saved is not None:
                applied_plans.record(saved[1])
            executor = ApplyExecutor(
                provider,
                sink,
                options.redactor,
                concurrency=1 if manual else int(workspace.state.provider.options.get("concurrency", 4)),
                progress=progress,
                emergency_dir=workspace.base_dir / ".keyform",  # 0700, ignored by git
                journal=journal,
            )
            try:
                with _stop_on_signals(executor, options):
                    report = executor.execute(the_plan)
            finally:
                progress.close()
                journal.close()
    options.echo(format_report(report, sink.describe()))
    if not report.ok:
        sys.exit(1)
    return report


def _require_person(provider: Provider, the_plan: Plan, dry_run: bool) -> None:
    """A provider without a management API needs a person at a terminal to apply changes."""
    if type(provider).needs_person and not (dry_run or the_plan.empty):
        from keyform.manual import require_person

        require_person(provider.describe())


def _saved_plan(
    planfile: Path, workspace: Workspace, options: GlobalOptions, applied_plans: AppliedPlans
) -> tuple[Plan, str]:
    """The saved plan and its id, checked before anything else happens (lock, journal): refused if it
    was made for another desired state or sink, or was applied here already."""
    import hashlib

    the_plan = read_plan(planfile)
    plan_id = hashlib.sha256(planfile.read_bytes()).hexdigest()
    when = applied_plans.applied_at(plan_id)
    if when is not None:
        raise StalePlanError(
            f"{planfile} was already applied ({when}): a saved plan applies once; make a new one with "
            f"`keyform plan --out {planfile}`"
        )
    check_plan_binding(the_plan, planfile, workspace, options)
    return the_plan, plan_id


def recover(journal: Journal, workspace: Workspace, options: GlobalOptions) -> set[str]:
    """Addresses whose new secret an interrupted or failed apply may not have delivered (they get a fresh one)."""
    in_flight = journal.in_flight()
    if in_flight:
        options.echo(
            f"An earlier apply stopped with {len(in_flight)} change(s) in flight: "
            + ", ".join(f"{r.get('action')} {r.get('address')}" for r in in_flight),
            err=True,
        )
    addresses = {
        str(record.get("address"))
        for record in [*in_flight, *journal.failed_with_secret()]
        if record.get("secret") and workspace.state.has_secret(str(record.get("address", "")))
    }
    if addresses:
        options.echo(
            f"Issuing fresh secrets for {', '.join(sorted(addresses))}: an earlier apply asked for them and did "
            "not finish, so none is lost.",
            err=True,
        )
    return addresses


@contextmanager
def _stop_on_signals(executor: ApplyExecutor, options: GlobalOptions) -> Iterator[None]:
    """SIGINT/SIGTERM: finish the changes in flight, deliver their secrets, start nothing new."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        options.echo(f"\n{name}: finishing the changes in flight, then stopping.", err=True)
        executor.stop(f"apply was stopped by {name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _confirm(options: GlobalOptions) -> None:
    if not sys.stdin.isatty():
        raise KeyformError("not applying: no terminal to confirm on; pass --auto-approve or apply a reviewed plan file")
    answer = click.prompt("\nApply these changes? Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise KeyformError("apply cancelled: nothing was changed")


SHOWN_ADDRESSES = 5  # a summary line names this many addresses, then "and N more"


def format_report(report: ApplyReport, sink: str) -> str:
    from keyform.apply import APPLIED, FAILED, PLANNED, SKIPPED, STALE

    if not report.results:
        return "Nothing to apply."
    if all(r.status == PLANNED for r in report.results):
        return f"Dry run: {len(report.results)} change(s) would be applied in the order shown; nothing was changed."
    delivered = sum(1 for r in report.results if r.secret_delivered)
    lines = [
        f"\nApply {'complete' if report.ok else 'incomplete'}: {report.count(APPLIED)} applied, "
        f"{report.count(FAILED)} failed, {report.count(STALE)} stale, {report.count(SKIPPED)} skipped."
    ]
    if delivered:
        lines.append(f"{delivered} new secret(s) delivered to {sink}.")
    for result in report.results:
        if result.status in (FAILED, STALE):
            lines.append(f"  {result.status}: {result.change.address}: {result.message}")
    lines.extend(_skipped_lines(report))
    if report.count(STALE):
        lines.append("Stale changes were not applied: run `keyform plan` again and review the new plan.")
    if report.emergency_file:
        lines.append(f"New secrets that could not reach the sink are in {report.emergency_file} (mode 0600).")
    elif report.unreachable:
        lines.append(
            f"Apply stopped: {report.stopped}. Start it (or fix provider.url) and run `keyform apply` again: "
            "applied changes are not repeated."
        )
    elif report.stopped:
        lines.append(f"Apply stopped: {report.stopped}. Run `keyform apply` again to finish.")
    elif report.count(FAILED):
        lines.append("Fix the failures and run `keyform apply` again: applied changes are not repeated.")
    elif not report.ok:
        lines.append("Run `keyform apply` again to finish: applied changes are not repeated.")
    return "\n".join(lines)


def _skipped_lines(report: ApplyReport) -> list[str]:
    """One line per reason changes were skipped: how many, and the first few addresses."""
    from keyform.apply import SKIPPED

    by_reason: dict[str, list[str]] = {}
    for result in report.results:
        if result.status == SKIPPED:
            by_reason.setdefault(result.message, []).append(result.change.address)
    lines = []
    for reason, addresses in by_reason.items():
        shown = ", ".join(addresses[:SHOWN_ADDRESSES])
        more = f" and {len(addresses) - SHOWN_ADDRESSES} more" if len(addresses) > SHOWN_ADDRESSES else ""
        lines.append(f"  skipped: {len(addresses)} change(s) ({reason}): {shown}{more}")
    return lines
