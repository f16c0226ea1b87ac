"""The UI object the library reports through: the terminal one the CLI builds, the recording one."""

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from keyform.cli import GlobalOptions, main
from keyform.cli.terminal import TerminalUI
from keyform.secrets.redaction import Redactor
from keyform.ui import NotInteractiveError, RecordingUI

SRC = Path(__file__).resolve().parents[1] / "src" / "keyform"


def test_a_secret_typed_at_the_prompt_is_not_echoed_and_is_redacted_afterwards(monkeypatch):
    monkeypatch.setattr(TerminalUI, "interactive", property(lambda self: True))

    @main.command("secret-probe", hidden=True)
    def probe():
        ui = click.get_current_context().find_object(GlobalOptions).ui
        value = ui.prompt_secret("Personio client secret")
        ui.echo(f"got {value}")

    try:
        result = CliRunner().invoke(main, ["secret-probe"], input="s3cret-value\n")
    finally:
        main.commands.pop("secret-probe")
    assert result.exit_code == 0
    assert "Personio client secret: " in result.output
    assert "s3cret-value" not in result.output
    assert "got <redacted>" in result.output


def test_with_no_terminal_a_prompt_is_an_error_not_a_hang():
    ui = TerminalUI(Redactor())  # pytest's stdin is no terminal, like a CI job's
    with pytest.raises(NotInteractiveError, match="no terminal to type token on"):
        ui.prompt_secret("token")


def test_the_recording_ui_answers_from_its_script_and_then_refuses():
    ui = RecordingUI.answering(answers=["yes", "no"], secrets=["s"])
    assert ui.interactive
    assert ui.confirm("apply?") and not ui.confirm("again?")
    assert ui.prompt_secret("token") == "s"
    assert not ui.interactive
    with pytest.raises(NotInteractiveError, match="no one is there to confirm"):
        ui.confirm("once more?")
    assert ui.asked == ["apply?", "again?", "token", "once more?"]


def test_no_module_below_the_cli_imports_it_prints_prompts_or_exits():
    below = [path for path in SRC.rglob("*.py") if "cli" not in path.relative_to(SRC).parts[:1]]
    below = [path for path in below if path.name not in ("__main__.py", "process.py")]  # the command's process
    # keyform.testing is the conformance kit: like tests/, it drives the real command as its subject
    below = [path for path in below if path.relative_to(SRC).parts[0] != "testing"]
    offences = []
    for path in below:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keyform.cli"):
                offences.append(f"{path.name}: imports {node.module}")
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("print", "input", "sys.exit", "click.echo", "click.prompt", "click.confirm", "exit"):
                    offences.append(f"{path.name}:{node.lineno}: {name}()")
    assert offences == []
