"""`keyform validate` and `keyform schema`: check desired-state files, print the JSON Schema."""

from __future__ import annotations

import json
import sys

import click

from keyform.cli import GlobalOptions


@click.command()
@click.option(
    "--no-env",
    is_flag=True,
    help="Check ${env:NAME} references for syntax only (no environment variables needed).",
)
@click.pass_obj
def validate(options: GlobalOptions, no_env: bool) -> None:
    """Check the desired state (with its includes): every problem, one line each."""
    from keyform.cli.errors import user_message
    from keyform.config import find_root, load_desired_state
    from keyform.config.document import display_path
    from keyform.errors import ConfigError

    try:
        root = find_root(options.config, options.directory)
        state = load_desired_state(root, resolve_env=not no_env)
    except ConfigError as error:
        for problem in error.problems:
            options.ui.err(str(problem) if len(error.problems) > 1 else user_message(error))
        sys.exit(1)
    counts = ", ".join(kind.counted(len(state.of(kind.name))) for kind in state.kinds if not kind.singleton)
    options.ui.echo(f"{display_path(root)}: valid ({counts})")


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
