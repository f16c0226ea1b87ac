"""`keyform validate` and `keyform schema`: check desired-state files, print the JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keyform.cli import GlobalOptions

if TYPE_CHECKING:
    from keyform.errors import Problem


@click.command()
@click.option(
    "--no-env",
    is_flag=True,
    help="Check ${env:NAME} references for syntax only (no environment variables needed).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (valid, root, counts, problems with file, line and column) on stdout.",
)
@click.pass_obj
def validate(options: GlobalOptions, no_env: bool, as_json: bool) -> None:
    """Check the desired state (with its includes): every problem, one line each."""
    from keyform.cli.errors import user_message
    from keyform.config import find_root, load_desired_state
    from keyform.config.document import display_path
    from keyform.errors import ConfigError

    root = None
    try:
        root = find_root(options.config, options.directory)
        state = load_desired_state(root, resolve_env=not no_env)
    except ConfigError as error:
        if as_json:
            shown = [user_message(error)] if len(error.problems) == 1 and error.problems[0].location is None else None
            _echo_json(options, root, {}, error.problems, shown)
        else:
            for problem in error.problems:
                options.ui.err(str(problem) if len(error.problems) > 1 else user_message(error))
        sys.exit(1)
    if as_json:
        counts = {kind.name: len(state.of(kind.name)) for kind in state.kinds if not kind.singleton}
        _echo_json(options, root, counts, [], None)
        return
    counts_text = ", ".join(kind.counted(len(state.of(kind.name))) for kind in state.kinds if not kind.singleton)
    options.ui.echo(f"{display_path(root)}: valid ({counts_text})")


def _echo_json(
    options: GlobalOptions,
    root: Path | None,
    counts: dict[str, int],
    problems: list[Problem],
    messages: list[str] | None,
) -> None:
    """validate's one JSON document; `messages` overrides the problems' own (a missing root file)."""
    from keyform.config.document import display_path

    listed = [
        {
            "file": problem.location.file if problem.location else None,
            "line": problem.location.line if problem.location else None,
            "column": problem.location.column if problem.location else None,
            "message": messages[index] if messages else problem.message,
        }
        for index, problem in enumerate(problems)
    ]
    document = {
        "valid": not problems,
        "root": display_path(root) if root is not None else None,
        "counts": counts,
        "problems": listed,
    }
    options.ui.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.command()
@click.option(
    "--provider",
    "provider_type",
    default="keyform",
    show_default=True,
    help="The provider.type whose kinds the schema describes.",
)
@click.pass_obj
def schema(options: GlobalOptions, provider_type: str) -> None:
    """Print the JSON Schema (draft 2020-12) of keyform.yaml, for editors and CI."""
    from keyform.config import schema_document
    from keyform.providers.registry import provider_class

    provider_class(provider_type)  # an unknown type is an error naming the known ones
    options.ui.echo(json.dumps(schema_document(provider_type), indent=2, ensure_ascii=False))


COMMANDS = [validate, schema]
