import subprocess
import sys

from click.testing import CliRunner

from keyform import __version__
from keyform.cli import main


def colour_output(args, env=None):
    """Render a styled line through the CLI's echo, pretending to be a terminal."""
    import click

    from keyform.cli import GlobalOptions

    @main.command("styled-probe", hidden=True)
    def probe():
        click.get_current_context().find_object(GlobalOptions).ui.echo(click.style("red", fg="red"))

    try:
        return CliRunner().invoke(main, [*args, "styled-probe"], env=env or {}, color=True).output
    finally:
        main.commands.pop("styled-probe")


def test_colour_on_a_terminal_unless_no_color_is_asked_for():
    assert "\x1b[31m" in colour_output([])
    assert colour_output(["--no-color"]) == "red\n"
    assert colour_output([], env={"NO_COLOR": "1"}) == "red\n"


def test_version_and_python_dash_m():
    assert CliRunner().invoke(main, ["--version"]).output == f"keyform, version {__version__}\n"
    result = subprocess.run([sys.executable, "-m", "keyform", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "plan" in result.stdout and "Traceback" not in result.stderr


def test_shell_completion_script_is_generated():
    result = subprocess.run(
        [sys.executable, "-m", "keyform"],
        env={"_KEYFORM_COMPLETE": "bash_source", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "complete -o nosort -F _keyform_completion keyform" in result.stdout


def test_help_lists_every_command_and_each_commands_help_works():
    """Commands import what they need when they run: --help for each must still work on its own."""
    result = subprocess.run([sys.executable, "-m", "keyform", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stderr == ""
    listed = result.stdout.split("Commands:")[1].split()
    for command in sorted(main.commands):
        assert command in listed
        helped = CliRunner().invoke(main, [command, "--help"])
        assert helped.exit_code == 0, (command, helped.output)
        assert helped.output.split()[:3] == ["Usage:", "main", command]
