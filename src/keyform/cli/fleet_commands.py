"""A fleet of targets: `keyform targets`, `plan --all`, `apply --all` and `plan --combine`.

`plan` and `apply` stay in engine_commands; `fleet_plan` and `fleet_apply` wrap them with the
fleet options and hand over to the single-target command when none is given. With `--all`, the
command's other options are passed on to every target's `keyform -C TARGET ...` as given.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from keyform.cli import current_options

if TYPE_CHECKING:
    from keyform.fleet import Outcome, Target

FLEET_OPTIONS = ("all_targets", "jobs", "combine", "plan_files")
PLAN_CODES = {0: "no changes", 2: "changes"}  # `plan --detailed-exitcode`; anything else failed


def _root() -> Path:
    options = current_options()
    if options.config is not None:
        raise click.UsageError("--config names one target's file; with a fleet, pass -C ROOT (default: here)")
    return options.directory or Path(".")


@click.command(name="targets")
@click.option("--json", "as_json", is_flag=True, help='A GitHub Actions matrix: {"include": [{target, ...}]}.')
def targets(as_json: bool) -> None:
    """List the targets below here (or -C ROOT): each folder with a keyform.yaml, or those keyform-fleet.yaml names."""
    from keyform.fleet import discover

    options = current_options()
    found = discover(_root())
    if as_json:
        matrix = {"include": [target.as_matrix_entry() for target in found]}
        options.ui.echo(orjson.dumps(matrix).decode())
        return
    width = max(len(target.name) for target in found)
    for target in found:
        options.ui.echo(f"{target.name:<{width}}  {target.provider or '?'}")


# -- plan and apply with --all --------------------------------------------------------------------


def _passed_on(ctx: click.Context, skip: Sequence[str] = ()) -> list[str]:
    """The command's options as given (defaults left out), to give each target's command."""
    args: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if not isinstance(param, click.Option) or name in (*FLEET_OPTIONS, *skip):
            continue
        value = ctx.params.get(name)
        if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT or value is None:
            continue
        flag = param.opts[0]
        if param.is_flag:
            if value or param.secondary_opts:  # --x, or --no-x of an --x/--no-x pair
                args.append(flag if value else param.secondary_opts[0])
        elif param.multiple:
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def _global_args(ctx: click.Context) -> list[str]:
    """-v and --log-format as given to this command, for every target's."""
    top = ctx.find_root().params
    return [
        *(["-v"] if top.get("verbose") else []),
        *(["--log-format", top["log_format"]] if top.get("log_format") else []),
    ]


def _show(outcome: Outcome, status: str) -> None:
    """One target's whole output, under a heading: never interleaved with another's."""
    ui = current_options().ui
    ui.echo(f"=== {outcome.target.name} ({outcome.target.provider or '?'}): {status} ===")
    if outcome.stdout:
        ui.echo(outcome.stdout.rstrip("\n"))
    if outcome.stderr:
        ui.err(outcome.stderr.rstrip("\n"))


def _summarise(outcomes: Sequence[Outcome], status: Callable[[Outcome], str]) -> None:
    ui = current_options().ui
    width = max(len(outcome.target.name) for outcome in outcomes)
    ui.echo(f"\nSummary of {len(outcomes)} targets:")
    for outcome in outcomes:
        failed = f": {outcome.problem}" if status(outcome).startswith("failed") and outcome.problem else ""
        ui.echo(f"  {outcome.target.name:<{width}}  {status(outcome)}{failed}")


def _plan_status(outcome: Outcome) -> str:
    return PLAN_CODES.get(outcome.code, f"failed (exit {outcome.code})")


def _apply_status(outcome: Outcome) -> str:
    return "ok" if outcome.code == 0 else f"failed (exit {outcome.code})"


def _run_fleet(
    ctx: click.Context, command: str, extra: Callable[[Target], list[str]], parallelism: int
) -> list[Outcome]:
    from keyform.fleet import discover, run_all

    found = discover(_root())
    passed = [*_global_args(ctx), command, *_passed_on(ctx, skip=("out",))]
    status = _plan_status if command == "plan" else _apply_status
    outcomes = run_all(
        found,
        lambda target: [*passed, *extra(target)],
        parallelism=parallelism,
        on_done=lambda outcome: _show(outcome, status(outcome)),
    )
    _summarise(outcomes, status)
    return outcomes


def _plan_all(ctx: click.Context, parallelism: int, out: Path | None, detailed_exitcode: bool) -> None:
    def extra(target: Target) -> list[str]:
        # always --detailed-exitcode: it tells "changes" from "no changes" for the summary
        saved = ["--out", str((out / target.plan_file).resolve())] if out is not None else []
        return [*saved, "--detailed-exitcode"]

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    outcomes = _run_fleet(ctx, "plan", extra, parallelism)
    if out is not None:
        current_options().ui.err(f"Saved the plans to {out}: combine them with `keyform plan --combine {out}/*.json`.")
    _exit([outcome.code for outcome in outcomes], detailed=detailed_exitcode)


def _exit(codes: Sequence[int], *, detailed: bool) -> None:
    """1 if any target failed; 2 with --detailed-exitcode if any has changes; else 0."""
    if any(code not in PLAN_CODES for code in codes):
        sys.exit(1)
    if detailed and 2 in codes:
        sys.exit(2)


def _combine(plan_files: Sequence[Path], detailed_exitcode: bool) -> None:
    from keyform.engine import read_plan
    from keyform.plan.render_combined import TargetPlan, render_combined, target_name

    if not plan_files:
        raise click.UsageError("--combine needs the saved plan files: keyform plan --combine plan-*.json")
    plans = [TargetPlan(name=target_name(path), path=path, plan=read_plan(path)) for path in plan_files]
    current_options().ui.echo(render_combined(plans), nl=False)
    if detailed_exitcode and any(item.plan.drifted for item in plans):
        sys.exit(2)


jobs_option = click.option(
    "--jobs", "jobs", type=click.IntRange(min=1), default=4, show_default=True, help="With --all: targets at once."
)


def fleet_plan(command: Callable[..., None]) -> Callable[..., None]:
    """`plan` with --all, --jobs and --combine PLANFILE...; without them, `command` itself."""

    @click.option("--all", "all_targets", is_flag=True, help="Plan every target below here (see `keyform targets`).")
    @jobs_option
    @click.option("--combine", is_flag=True, help="Merge saved PLANFILEs into one Markdown review (no API calls).")
    @click.argument("plan_files", nargs=-1, metavar="[PLANFILE]...", type=click.Path(path_type=Path, dir_okay=False))
    @functools.wraps(command)
    def wrapper(all_targets: bool, jobs: int, combine: bool, plan_files: tuple[Path, ...], **kwargs: Any) -> None:
        ctx = click.get_current_context()
        if combine and all_targets:
            raise click.UsageError("--combine reads saved plan files; --all plans live: use one")
        if combine:
            _combine(plan_files, kwargs.get("detailed_exitcode", False))
        elif plan_files:
            raise click.UsageError("PLANFILE arguments need --combine")
        elif all_targets:
            _plan_all(ctx, jobs, kwargs.get("out"), kwargs.get("detailed_exitcode", False))
        else:
            command(**kwargs)

    return wrapper


def fleet_apply(command: Callable[..., None]) -> Callable[..., None]:
    """`apply` with --all and --jobs; without them, `command` itself."""

    @click.option("--all", "all_targets", is_flag=True, help="Apply every target below here, side by side.")
    @jobs_option
    @functools.wraps(command)
    def wrapper(all_targets: bool, jobs: int, **kwargs: Any) -> None:
        if not all_targets:
            command(**kwargs)
            return
        if kwargs.get("planfile") is not None:
            raise click.UsageError(
                "--all plans each target afresh: apply a saved PLANFILE with `keyform -C TARGET apply`"
            )
        if not (kwargs.get("auto_approve") or kwargs.get("dry_run")):
            raise click.UsageError(
                "--all applies targets side by side and can't ask for each: review `keyform plan --all`, then pass "
                "--auto-approve"
            )
        outcomes = _run_fleet(click.get_current_context(), "apply", lambda target: [], jobs)
        if any(outcome.code != 0 for outcome in outcomes):
            sys.exit(1)

    return wrapper


COMMANDS = [targets]
