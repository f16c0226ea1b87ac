from keyform.apply import ChangeResult
from keyform.cli.terminal import TerminalUI
from keyform.contract import Action, Change
from keyform.progress import ApplyProgress
from keyform.secrets.redaction import Redactor
from keyform.ui import RecordingUI


def results():
    ok = ChangeResult(Change(Action.CREATE, "credentials/a"), "applied", secret_delivered=True)
    bad = ChangeResult(Change(Action.UPDATE, "roles/r"), "failed", "HTTP 500")
    return ok, bad


LINES = ["  applied  create credentials/a (new secret delivered)", "   failed  update roles/r: HTTP 500"]


def test_logs_get_one_line_per_change(capsys):
    progress = ApplyProgress(TerminalUI(Redactor()), 2, bar=False)
    for result in results():
        progress(result)
    progress.close()
    assert capsys.readouterr().out.splitlines() == LINES


def test_terminal_gets_a_bar_and_only_the_problems_as_lines(capsys, monkeypatch):
    monkeypatch.setattr("keyform.cli.terminal.watched", lambda: True)
    progress = ApplyProgress(TerminalUI(Redactor()), 2)
    for result in results():
        progress(result)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "failed  update roles/r: HTTP 500" in captured.err
    assert "create credentials/a" not in captured.err


def test_a_library_caller_gets_the_lines_and_nothing_is_printed(capsys):
    ui = RecordingUI()
    progress = ApplyProgress(ui, 2)
    for result in results():
        progress(result)
    progress.close()
    assert ui.out == LINES
    assert capsys.readouterr() == ("", "")
