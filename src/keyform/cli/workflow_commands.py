"""`keyform fmt`: rewrite desired-state files in canonical form (or, with --check, list them)."""

from __future__ import annotations

from pathlib import Path

import click

from keyform.cli import current_options


@click.command()
@click.option("--check", is_flag=True, help="Change nothing; list the files that would change and exit 1 if any.")
@click.option(
    "--sort-names",
    is_flag=True,
    help="Also sort roles, users and credentials by name (default: keep the order they are written in).",
)
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff of each change (with --check: only show).")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
def fmt(check: bool, sort_names: bool, show_diff: bool, files: tuple[Path, ...]) -> None:
    """Format FILES, or keyform.yaml and every file it includes, in canonical form (comments kept)."""
    from keyform.config.root import find_root
    from keyform.fmt import format_files, format_tree, write_atomically

    options = current_options()
    if files:
        base = options.directory
        results = format_files([base / path if base is not None else path for path in files], sort_names=sort_names)
    else:
        results = format_tree(find_root(options.config, options.directory), sort_names=sort_names)
    changed = [result for result in results if result.changed]
    for result in changed:
        if show_diff:
            options.ui.echo(result.diff(), nl=False)
        if check:
            options.ui.echo(f"would reformat {result.display}")
        else:
            write_atomically(result.path, result.text)
            options.ui.echo(f"reformatted {result.display}")
    if check and changed:
        raise SystemExit(1)


COMMANDS = [fmt]
