"""verify: check the secrets in the sink against the live credential API."""

from __future__ import annotations

import sys

import click

from keyform.cli import current_options


@click.command()
@click.argument("addresses", nargs=-1, metavar="[ADDR]...")
def verify(addresses: tuple[str, ...]) -> None:
    """Check that every secret in the sink authenticates and has the declared access (exit 1 if not)."""
    from keyform import engine
    from keyform.verify import read_sink
    from keyform.verify import verify as verify_secrets

    options = current_options()
    workspace = engine.load(options.settings())
    sink = workspace.sink()
    document = read_sink(sink, workspace.state.secrets.type)
    report = verify_secrets(workspace.state, document, options.redactor, addresses=addresses, sink=sink.describe())
    for finding in report.findings:
        options.ui.echo(str(finding))
    options.ui.echo(report.summary())
    if not report.ok:
        sys.exit(1)


COMMANDS = [verify]
