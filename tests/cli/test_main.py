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
        click.get_current_context().find_object(GlobalOptions).echo(click.style("red", fg="red"))

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


def modules_loaded_by(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules), file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stderr.split())


def test_help_loads_no_command_machinery():
    loaded = modules_loaded_by("from keyform.cli import main\nmain(['--help'], standalone_mode=False)")
    heavy = {"requests", "yaml", "jsonschema", "jsonschema_rs", "deepdiff", "keyform.engine", "keyform.config.load"}
    assert loaded & heavy == set()


def test_what_a_plan_needs_before_its_live_read_starts_leaves_the_loader_and_planner_unloaded(tmp_path):
    """A plan starts reading the live state once it has the provider settings; the rest loads meanwhile."""
    root = tmp_path / "keyform.yaml"
    root.write_text("version: 1\nprovider:\n  type: keyform\n  url: http://127.0.0.1:9\n  token: ${env:T}\n")
    loaded = modules_loaded_by(
        "import keyform.engine, keyform.cli\n"
        "from pathlib import Path\n"
        "from keyform.config.peek import peek_provider\n"
        "from keyform.config.root import find_root\n"
        "from keyform.model import PluginConfig\n"
        "from keyform.providers.registry import load_provider\n"
        f"peeked = peek_provider(find_root(directory=Path({str(tmp_path)!r})), {{'T': 'kfk_x'}})\n"
        "options = {key: value for key, value in peeked.items() if key != 'type'}\n"
        "load_provider(PluginConfig(peeked['type'], options)).close()"
    )
    assert "keyform.providers.keyform.provider" in loaded  # the provider the read needs is there
    later = {"keyform.config.load", "keyform.config.schema", "keyform.config.semantics", "keyform.plan.build"}
    assert loaded & (later | {"jsonschema_rs", "jsonschema"}) == set()
