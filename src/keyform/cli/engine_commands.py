"""plan, apply, rotate, export, show and demo: thin commands over keyform.engine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from keyform.cli import GlobalOptions
from keyform.process import keep_until_exit

FORMATS = ("text", "json", "markdown", "junit")


def _options() -> GlobalOptions:
    return click.get_current_context().find_object(GlobalOptions) or GlobalOptions()


@click.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to show the plan.",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), help="Save the plan to PLANFILE for `keyform apply PLANFILE`."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0: none, 1: error).")
@click.option("--target", "targets", multiple=True, metavar="ADDR", help="Only plan changes for ADDR (repeatable).")
@click.option(
    "--replace", "replace", multiple=True, metavar="ADDR", help="Force a new secret for this credential or API key."
)
@click.option(
    "--allow-unsafe", is_flag=True, help="Plan even if safety thresholds (max_delete_fraction, protect) are exceeded."
)
def plan(
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    allow_unsafe: bool,
) -> None:
    """Show what apply would change (reads the live state; changes nothing)."""
    from keyform import engine

    options = _options()
    workspace, result = engine.load_and_plan(options, targets=targets, replace=replace, allow_unsafe=allow_unsafe)
    keep_until_exit(workspace, result)  # freeing them would only delay the exit
    checked = result.checked if output_format == "junit" else ()  # only junit lists what was compared
    options.echo(engine.render(result.plan, output_format, checked=checked, styled=options.styled))
    if out is not None:
        engine.save_plan(result.plan, out, workspace)
        options.echo(f"Saved the plan to {out}: apply it with `keyform apply {out}`.", err=True)
    if detailed_exitcode and result.plan.drifted:  # changes, or unmanaged drift (safety.unmanaged_is_drift)
        sys.exit(2)


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (needed when not on a terminal).")
@click.option(
    "--replace", "replace", multiple=True, metavar="ADDR", help="Force a new secret for this credential or API key."
)
@click.option("--target", "targets", multiple=True, metavar="ADDR", help="Only apply changes for ADDR (repeatable).")
@click.option("--allow-unsafe", is_flag=True, help="Apply even if safety thresholds are exceeded.")
@click.option("--dry-run", is_flag=True, help="Walk the plan in apply order without changing anything.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for another apply.",
)
def apply(
    planfile: Path | None,
    auto_approve: bool,
    replace: tuple[str, ...],
    targets: tuple[str, ...],
    allow_unsafe: bool,
    dry_run: bool,
    lock_timeout: float,
) -> None:
    """Apply the desired state (or exactly a saved PLANFILE, refusing what went stale)."""
    from keyform import engine

    options = _options()
    workspace = engine.load(options)
    keep_until_exit(workspace)
    engine.run_apply(
        workspace,
        options,
        planfile=planfile,
        auto_approve=auto_approve,
        targets=targets,
        replace=replace,
        allow_unsafe=allow_unsafe,
        dry_run=dry_run,
        lock_timeout=lock_timeout,
    )


@click.command()
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@click.option("--auto-approve", is_flag=True, help="Rotate without asking.")
def rotate(addresses: tuple[str, ...], auto_approve: bool) -> None:
    """New secrets for these credentials or API keys now (shortcut for `apply --replace ADDR --target ADDR`)."""
    from keyform import engine
    from keyform.errors import KeyformError
    from keyform.plan.build import secret_problem

    options = _options()
    workspace = engine.load(options)
    for address in addresses:
        problem = secret_problem(workspace.state, address, verb="rotate")
        if problem:
            raise KeyformError(f"rotate {address}: {problem}")
    engine.run_apply(workspace, options, auto_approve=auto_approve, targets=addresses, replace=addresses)


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write DIR/keyform.yaml and one included file per kind (every 5,000 resources) instead of printing.",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist in DIR.")
def export(out: Path | None, force: bool) -> None:
    """Write the live state as desired-state YAML (no secrets)."""
    from keyform import engine
    from keyform.export import export_files, export_yaml

    options = _options()
    workspace = engine.load(options)
    with workspace.provider() as provider:
        live = provider.read()
    if out is None:
        text = export_yaml(live, workspace.state.provider.type)
        options.echo(text, nl=False)
        _warn_if_too_large(options, len(text.encode()))
        return
    from keyform.export import write_files

    files = export_files(live, workspace.state.provider.type)
    write_files(out, files, force=force)
    options.echo(f"Wrote {', '.join(files)} to {out}: validate them with `keyform -C {out} validate`.", err=True)


def _warn_if_too_large(options: GlobalOptions, size: int) -> None:
    from keyform.config.sizes import DEFAULT_MAX_BYTES, format_size

    if size > DEFAULT_MAX_BYTES:
        options.echo(
            f"Note: this export is {size:,} bytes, over the {format_size(DEFAULT_MAX_BYTES)} keyform reads from one"
            " file: use `keyform export --out DIR` to have it split into included files.",
            err=True,
        )


@click.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's files here instead of a temporary directory.",
)
def demo(workdir: Path | None) -> None:
    """Run keyform end to end against an embedded `keyform server` (no setup needed)."""
    from keyform.demo import run_demo

    run_demo(_options(), workdir)


@click.command(name="show")
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
def show(planfile: Path, output_format: str) -> None:
    """Render a saved plan file (no API calls)."""
    from keyform import engine

    if output_format == "junit":
        raise click.UsageError("junit needs the live state: use `keyform plan --format junit`")
    options = _options()
    options.echo(engine.render(engine.read_plan(planfile), output_format, styled=options.styled))


@click.command(name="locks")
def locks() -> None:
    """List the organisation's apply locks: id, holder, since when and until when."""
    from keyform import engine

    options = _options()
    workspace = engine.load(options)
    with workspace.provider() as provider:
        held = provider.locks()
    if not held:
        options.echo("No apply lock is held.")
        return
    for lock in held:
        options.echo(f"{lock.id}  held by {lock.owner} since {lock.since} (expires {lock.expires})")
    options.echo("Release a stuck one with `keyform force-unlock ID`.", err=True)


@click.command(name="force-unlock")
@click.argument("lock_id")
def force_unlock(lock_id: str) -> None:
    """Release a stuck apply lock by its id (`keyform locks` lists them)."""
    from keyform import engine

    options = _options()
    workspace = engine.load(options)
    with workspace.provider() as provider:
        provider.unlock(lock_id)
    options.echo(f"Released lock {lock_id}.")


COMMANDS = [plan, apply, rotate, export, show, demo, locks, force_unlock]
