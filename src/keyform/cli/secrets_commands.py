"""verify: check the secrets in the sink against the live credential API."""

from __future__ import annotations

import sys

import click

from keyform.cli import GlobalOptions


@click.command()
@click.argument("addresses", nargs=-1, metavar="[ADDR]...")
def verify(addresses: tuple[str, ...]) -> None:
    """Check that every secret in the sink authenticates and has the declared access (exit 1 if not)."""
    from keyform.verify import read_sink
    from keyform.verify import verify as verify_secrets
    from keyform.workspace import open_workspace, register_config_secrets

    options = click.get_current_context().find_object(GlobalOptions) or GlobalOptions()
    workspace = open_workspace(options.config, options.directory)
    register_config_secrets(workspace.state, options.redactor)
    sink = workspace.sink()
    document = read_sink(sink, workspace.state.secrets.type)
    report = verify_secrets(workspace.state, document, options.redactor, addresses=addresses, sink=sink.describe())
    for finding in report.findings:
        options.echo(str(finding))
    options.echo(report.summary())
    if not report.ok:
        sys.exit(1)


COMMANDS = [verify]
