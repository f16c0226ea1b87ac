"""plan, apply, rotate, export, show, demo, locks and force-unlock: thin commands over keyform.engine.

Each command imports the engine when it runs: importing it loads YAML, HTTP and the planner,
which `keyform --help` doesn't need (see bench/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keyform.cli import GlobalOptions, current_options
from keyform.cli.completion import complete_address, complete_secret_address
from keyform.cli.fleet_commands import fleet_apply, fleet_plan

if TYPE_CHECKING:
    from keyform.apply import ApplyReport
    from keyform.contract import Kind
    from keyform.engine import Run

FORMATS = ("text", "json", "markdown", "junit")


class FormatChoice(click.Choice):  # type: ignore[type-arg]
    """A built-in plan format, or one a package registers under `keyform.renderers`."""

    def __init__(self) -> None:
        super().__init__(FORMATS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value not in self.choices:
            from keyform.plan.render import RENDERERS  # only for a format that isn't built in

            if RENDERERS.provides(value):
                return value
        return super().convert(value, param, ctx)


replace_option = click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="ADDR",
    shell_complete=complete_secret_address,
    help="Force a new secret for this credential or API key.",
)


@click.command()
@click.option(
    "--format",
    "output_format",
    type=FormatChoice(),
    default="text",
    show_default=True,
    help="How to show the plan.",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), help="Save the plan to PLANFILE for `keyform apply PLANFILE`."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0: none, 1: error).")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDR",
    shell_complete=complete_address,
    help="Only plan changes for ADDR (repeatable).",
)
@replace_option
@click.option(
    "--allow-unsafe", is_flag=True, help="Plan even if safety thresholds (max_delete_fraction, protect) are exceeded."
)
@click.option(
    "--destroy", is_flag=True, help="Plan deleting every managed resource (safety checks apply; save it with --out)."
)
@fleet_plan
def plan(
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    allow_unsafe: bool,
    destroy: bool,
) -> None:
    """Show what apply would change (reads the live state; changes nothing)."""
    from keyform import engine

    options = current_options()
    request = engine.PlanRequest(targets=targets, replace=replace, allow_unsafe=allow_unsafe, destroy=destroy)
    with engine.session(options.settings(), prefetch=True) as run:
        result = run.plan(request)
        if targets:
            options.ui.err(engine.TARGETED_WARNING)
        checked = result.checked if output_format == "junit" else ()  # only junit lists what was compared
        options.ui.echo(engine.render(result.plan, output_format, checked=checked, styled=options.styled))
        if out is not None:
            run.save_plan(result.plan, out)
            options.ui.err(f"Saved the plan to {out}: apply it with `keyform apply {out}`.")
    if detailed_exitcode and result.plan.drifted:  # changes, or unmanaged drift (safety.unmanaged_is_drift)
        sys.exit(2)


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (needed when not on a terminal).")
@replace_option
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDR",
    shell_complete=complete_address,
    help="Only apply changes for ADDR (repeatable).",
)
@click.option("--allow-unsafe", is_flag=True, help="Apply even if safety thresholds are exceeded.")
@click.option("--dry-run", is_flag=True, help="Walk the plan in apply order without changing anything.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for another apply.",
)
@click.option(
    "--parallelism",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run at most N changes at once (default: the provider's concurrency option).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document of results on stdout (the plan, progress and errors go to stderr).",
)
@fleet_apply
def apply(
    planfile: Path | None,
    auto_approve: bool,
    replace: tuple[str, ...],
    targets: tuple[str, ...],
    allow_unsafe: bool,
    dry_run: bool,
    lock_timeout: float,
    parallelism: int | None,
    as_json: bool,
) -> None:
    """Apply the desired state (or exactly a saved PLANFILE, refusing what went stale)."""
    from keyform import engine

    options = current_options()
    with engine.session(options.settings(stdout_for_json=as_json)) as run:
        report: ApplyReport | None
        if planfile is not None:
            report = engine.apply_saved(
                run,
                planfile,
                dry_run=dry_run,
                lock_timeout=lock_timeout,
                parallelism=parallelism,
            )
        else:
            request = engine.PlanRequest(targets=targets, replace=replace, allow_unsafe=allow_unsafe)
            report = engine.converge(
                run,
                request,
                approved=auto_approve,
                dry_run=dry_run,
                lock_timeout=lock_timeout,
                parallelism=parallelism,
            )
        if as_json:
            _finish_json(options, run, report)
        else:
            _finish(options, run, report)


def _finish_json(options: GlobalOptions, run: Run, report: ApplyReport | None) -> None:
    """The results as one JSON document on stdout; exit 1 unless every change applied."""
    import json

    from keyform.report import report_document

    document = report_document(report, run.sink().describe())
    options.ui.echo(json.dumps(document, indent=2))
    if not document["ok"]:
        sys.exit(1)


def _finish(options: GlobalOptions, run: Run, report: ApplyReport | None) -> None:
    """Print the apply report (None: the plan had no changes, as it said); exit 1 unless every change applied."""
    from keyform import engine

    if report is None:
        return
    options.ui.echo(engine.format_report(report, run.sink().describe()))
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...", shell_complete=complete_secret_address)
@click.option("--auto-approve", is_flag=True, help="Rotate without asking.")
def rotate(addresses: tuple[str, ...], auto_approve: bool) -> None:
    """New secrets for these credentials or API keys now (shortcut for `apply --replace ADDR --target ADDR`)."""
    from keyform import engine

    options = current_options()
    with engine.session(options.settings()) as run:
        _finish(options, run, engine.converge(run, run.rotation(addresses), approved=auto_approve))


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
    from keyform.config.sizes import DEFAULT_MAX_BYTES, format_size
    from keyform.export import export_files, export_yaml, write_files

    options = current_options()
    with engine.session(options.settings(), prefetch=True) as run:
        live = run.read_live()
    provider_type = run.workspace.state.provider.type
    if out is None:
        text = export_yaml(live, provider_type)
        options.ui.echo(text, nl=False)
        if len(text.encode()) > DEFAULT_MAX_BYTES:
            options.ui.err(
                f"Note: this export is {len(text.encode()):,} bytes, over the {format_size(DEFAULT_MAX_BYTES)} keyform"
                " reads from one file: use `keyform export --out DIR` to have it split into included files."
            )
        return
    files = export_files(live, provider_type)
    write_files(out, files, force=force)
    options.ui.err(f"Wrote {', '.join(files)} to {out}: validate them with `keyform -C {out} validate`.")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's files here instead of a temporary directory.",
)
def demo(workdir: Path | None) -> None:
    """Run keyform end to end against an embedded `keyform server` (no setup needed)."""
    from keyform.demo import run_demo
    from keyform.errors import KeyformError
    from keyform.server.runner import OrganizationExistsError

    try:
        run_demo(current_options().settings(), workdir)
    except OrganizationExistsError as error:
        database = (workdir or Path()) / "credentials.db"  # only a --workdir can hold an organisation already
        raise KeyformError(f"{error}: the demo needs a fresh --workdir (or remove {database})") from None


PLAN_FORMATS_HINT = "text, json or markdown"
LIVE_FORMATS = ("yaml", "json")


@click.command(name="show")
@click.argument("what", required=False, metavar="[ADDR | PLANFILE]", shell_complete=complete_address)
@click.option(
    "--plan",
    "planfile",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Render this saved plan file (also: a PLANFILE argument that is an existing file).",
)
@click.option(
    "--format",
    "output_format",
    help="Live state: yaml (default) or json. A saved plan: text (default), json or markdown.",
)
def show(what: str | None, planfile: Path | None, output_format: str | None) -> None:
    """Show the live state of ADDR, or of every resource (never a secret); or render a saved plan."""
    if planfile is None and what is not None and Path(what).is_file():
        planfile = Path(what)  # `keyform show PLANFILE`, as before: an existing file is a plan, never an address
    elif planfile is not None and what is not None:
        raise click.UsageError("give an address or --plan FILE, not both")
    if planfile is not None:
        _show_plan(planfile, output_format or "text")
    else:
        _show_live(what, output_format or "yaml")


def _show_plan(planfile: Path, output_format: str) -> None:
    from keyform import engine

    if output_format == "junit":
        raise click.UsageError("junit needs the live state: use `keyform plan --format junit`")
    if output_format == "yaml":
        raise click.UsageError(f"a saved plan renders as {PLAN_FORMATS_HINT}, not yaml")
    FormatChoice().convert(output_format, None, click.get_current_context())
    options = current_options()
    options.ui.echo(engine.render(engine.read_plan(planfile), output_format, styled=options.styled))


def _show_live(address: str | None, output_format: str) -> None:
    import json

    from keyform import engine, live

    if output_format not in LIVE_FORMATS:
        raise click.UsageError(f"the live state shows as yaml or json, not {output_format}")
    options = current_options()
    with engine.session(options.settings(), prefetch=True) as run:
        kinds = type(run.provider).kinds
        state = run.read_live()
        if address is None:
            addresses = live.every_address(kinds, state)
        else:
            addresses = [live.find(kinds, state, address, command="show")[1]]
        target = run.provider.describe()
    if output_format == "json":
        document = {"target": target, "resources": live.resources_json(kinds, state, addresses)}
        options.ui.echo(json.dumps(document, indent=2, sort_keys=False))
        return
    if address is not None:
        resource = state[addresses[0]]
        adopt = f"not managed by keyform (adopt it: keyform import {address})"
        owner = "managed by keyform" if resource.managed else adopt
        options.ui.echo(f"# {addresses[0]}: {owner}; id {resource.id}")
    options.ui.echo(live.dump(live.document(kinds, state, addresses)), nl=False)


@click.command(name="import")
@click.argument("address", metavar="ADDR")
@click.argument("resource_id", metavar="[ID]", required=False)
@click.option(
    "--into",
    "into",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Add the resource to this desired-state file (comments and order kept) instead of printing it.",
)
def import_(address: str, resource_id: str | None, into: Path | None) -> None:
    """Adopt one live resource: print its desired-state YAML to paste, or add it to a file with --into.

    With ID (the id `keyform show` prints), the live resource with that id is adopted under ADDR;
    if it is live under another name, a `moved:` entry renames it (kinds the API can rename).
    The next plan shows it as an adopt; applying that marks it as managed by keyform.
    """
    from keyform import engine, live

    options = current_options()
    with engine.session(options.settings(), prefetch=True) as run:
        kinds = type(run.provider).kinds
        state = run.read_live()
        kind, found, target = live.to_import(kinds, state, run.workspace.state, address, resource_id)
        resource = state[found]
    spec = live.spec_of(kind, resource)
    adopt = "an adopt (managed by keyform once applied)"
    next_plan = "no change (it is managed already)" if resource.managed else adopt
    if found != target:
        next_plan = f"{'an update' if resource.managed else 'an adopt'} that renames {found} to {target}"
    if into is None:
        options.ui.echo(live.dump({kind.name: {live.name_of(kind, target): spec}}), nl=False)
        if found != target:
            options.ui.echo(live.dump({"moved": [{"from": found, "to": target}]}), nl=False)
        options.ui.err(f"Paste this into a desired-state file (or use --into FILE); the next plan shows {next_plan}.")
        return
    _import_into(options, into, kind, target, spec, moved_from=found if found != target else "")
    options.ui.err(f"Added {target} to {into}: the next plan shows {next_plan}.")


def _import_into(
    options: GlobalOptions, into: Path, kind: Kind, address: str, spec: dict[str, Any], *, moved_from: str = ""
) -> None:
    """Add the entry to `into` (and a `moved:` entry from `moved_from`, if given); restore the file
    unless the desired state then loads and declares it."""
    from keyform import engine, live
    from keyform.edit import added, moved_added
    from keyform.errors import KeyformError
    from keyform.fmt import write_atomically

    original = into.read_text(encoding="utf-8")
    write_atomically(into, added(into, kind, live.name_of(kind, address), spec))
    try:
        if moved_from:
            write_atomically(into, moved_added(into, moved_from, address))
        declared = address in engine.load(options.settings()).state.resource_map
    except KeyformError:
        write_atomically(into, original)
        raise
    if not declared:
        write_atomically(into, original)
        raise KeyformError(f"import {address}: {into} is not part of the desired state: include it from the root file")


@click.command(name="forget")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@click.option("--auto-approve", is_flag=True, help="Forget without asking.")
def forget(addresses: tuple[str, ...], auto_approve: bool) -> None:
    """Stop managing ADDR without deleting it: its ownership marker is dropped, it stays live.

    Remove ADDR from the desired state first (else the next plan adopts it again).
    """
    from keyform import engine

    options = current_options()
    request = engine.PlanRequest(targets=addresses, forget=addresses)
    with engine.session(options.settings()) as run:
        _finish(options, run, engine.converge(run, request, approved=auto_approve))


@click.command(name="pull")
@click.option("--auto-approve", is_flag=True, help="Write without asking (needed when not on a terminal).")
def pull(auto_approve: bool) -> None:
    """Accept drift: write live values of declared, managed resources into the desired-state files.

    Shows the diff of each file first; comments and layout are kept.
    """
    import difflib

    from keyform import engine
    from keyform.errors import KeyformError
    from keyform.fmt import write_atomically
    from keyform.pull import pull as pull_live
    from keyform.ui import NotInteractiveError

    options = current_options()
    with engine.session(options.settings(), prefetch=True) as run:
        pulled = pull_live(run.workspace.state, run.read_live(), type(run.provider).kinds)
    for path, (original, text) in pulled.files.items():
        lines = difflib.unified_diff(
            original.splitlines(keepends=True), text.splitlines(keepends=True), str(path), str(path)
        )
        options.ui.echo("".join(lines), nl=False)
    if pulled.left:
        options.ui.err(f"Left as declared (edit them by hand): {', '.join(pulled.left)}")
    if not pulled.files:
        options.ui.echo("No drift to pull: the desired state matches the live state.")
        return
    if not auto_approve:
        try:
            approved = options.ui.confirm("Write these live values into the desired state? Only 'yes' is accepted")
        except NotInteractiveError:
            raise KeyformError("not writing: no terminal to confirm on; pass --auto-approve") from None
        if not approved:
            raise KeyformError("pull cancelled: nothing was written")
    for path, (_, text) in pulled.files.items():
        write_atomically(path, text)
    files = ", ".join(str(path) for path in pulled.files)
    options.ui.err(f"Pulled {len(pulled.addresses)} resource(s) into {files}: the next plan shows no change for them.")


@click.command(name="locks")
def locks() -> None:
    """List the organisation's apply locks: id, holder, since when and until when."""
    from keyform import engine

    options = current_options()
    with engine.session(options.settings()) as run:
        held = run.provider.locks()
    if not held:
        options.ui.echo("No apply lock is held.")
        return
    for lock in held:
        options.ui.echo(f"{lock.id}  held by {lock.owner} since {lock.since} (expires {lock.expires})")
    options.ui.err("Release a stuck one with `keyform force-unlock ID`.")


@click.command(name="force-unlock")
@click.argument("lock_id")
def force_unlock(lock_id: str) -> None:
    """Release a stuck apply lock by its id (`keyform locks` lists them)."""
    from keyform import engine

    options = current_options()
    with engine.session(options.settings()) as run:
        run.provider.unlock(lock_id)
    options.ui.echo(f"Released lock {lock_id}.")


COMMANDS = [plan, apply, rotate, export, show, import_, forget, pull, demo, locks, force_unlock]
