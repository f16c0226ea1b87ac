"""The `keyform` command line: a thin click group; each command module adds its commands.

Commands parse options, call library code and let `KeyformError` propagate: `KeyformGroup`
turns it into one line on stderr and exit code 1. Heavy modules are imported inside commands
so `keyform --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from keyform import __version__
from keyform.cli.errors import user_message
from keyform.cli.terminal import TerminalUI
from keyform.errors import KeyformError
from keyform.process import crash_report
from keyform.secrets.redaction import Redactor
from keyform.settings import Settings


@dataclass
class GlobalOptions:
    """Options given before the command name, and the UI and engine settings built from them."""

    config: Path | None = None
    directory: Path | None = None
    redactor: Redactor = field(default_factory=Redactor)
    color: bool | None = None  # None: colour on a terminal only; False: never (--no-color, NO_COLOR)
    ui: TerminalUI = field(init=False)

    def __post_init__(self) -> None:
        self.ui = TerminalUI(self.redactor, self.color)

    @property
    def styled(self) -> bool:
        """Whether text for stdout should carry ANSI styles: click would strip them anywhere but a terminal."""
        return self.ui.styled

    def settings(self, *, stdout_for_json: bool = False) -> Settings:
        """What the engine needs: where the desired state is, the redactor, the UI (with
        `stdout_for_json`, one whose output goes to stderr: stdout is kept for a JSON document)."""
        ui = TerminalUI(self.redactor, self.color, output_to_stderr=True) if stdout_for_json else self.ui
        return Settings(config=self.config, directory=self.directory, redactor=self.redactor, ui=ui)


def current_options() -> GlobalOptions:
    """The running command's global options (defaults outside a `keyform` command)."""
    context = click.get_current_context(silent=True)
    found = context.find_object(GlobalOptions) if context is not None else None
    return found or GlobalOptions()


class KeyformGroup(click.Group):
    """A click group that reports errors as one line and exit 1, never a traceback.

    Usage errors exit 1 too, as Terraform's do: exit 2 means "changes" under --detailed-exitcode.
    An error keyform did not expect is a bug: one redacted line (see `crash_report`).
    """

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            _usage_error(error)

    def invoke(self, ctx: click.Context) -> Any:
        options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
        try:
            return super().invoke(ctx)
        except KeyformError as error:
            options.ui.err(f"Error: {user_message(error)}")
            sys.exit(1)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            _usage_error(error)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:  # a bug: one redacted line instead of a traceback (see crash_report)
            click.echo(crash_report(error, options.redactor), err=True)
            sys.exit(1)


def _usage_error(error: click.UsageError) -> NoReturn:
    """One line naming the mistake and where help is, exit 1."""
    command = error.ctx.command_path if error.ctx is not None else "keyform"
    message = " ".join(error.format_message().split())
    click.echo(f"Error: {message} (see `{command} --help`)", err=True)
    sys.exit(1)


@click.group(cls=KeyformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keyform")
@click.option(
    "--config", "config", type=click.Path(path_type=Path), help="Root desired-state file (default: ./keyform.yaml)."
)
@click.option("-C", "directory", type=click.Path(path_type=Path), help="Run as if started in DIR.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", help="Log lines on stderr as text or JSON."
)
@click.option("-v", "--verbose", is_flag=True, help="Log requests and retries (info level).")
@click.option("--no-color", is_flag=True, help="No colours, even on a terminal (also: NO_COLOR=1).")
@click.pass_context
def main(
    ctx: click.Context, config: Path | None, directory: Path | None, log_format: str, verbose: bool, no_color: bool
) -> None:
    """keyform: API credentials as code (users, roles, API keys and client credentials).

    Shell completion: eval "$(_KEYFORM_COMPLETE=bash_source keyform)" (zsh_source, fish_source).
    """
    from keyform.logs import configure_logging

    plain = no_color or bool(os.environ.get("NO_COLOR"))
    ctx.obj = GlobalOptions(config=config, directory=directory, color=False if plain else None)
    configure_logging(ctx.obj.redactor, log_format=log_format, verbose=verbose)


def _register() -> None:
    from keyform.cli import (
        config_commands,
        engine_commands,
        fleet_commands,
        secrets_commands,
        server_command,
        workflow_commands,
    )

    modules = (config_commands, engine_commands, fleet_commands, secrets_commands, workflow_commands, server_command)
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
