from keyform.apply import ChangeResult
from keyform.cli import GlobalOptions
from keyform.contract import Action, Change
from keyform.progress import Progress


def results():
    ok = ChangeResult(Change(Action.CREATE, "credentials/a"), "applied", secret_delivered=True)
    bad = ChangeResult(Change(Action.UPDATE, "roles/r"), "failed", "HTTP 500")
    return ok, bad


def test_logs_get_one_line_per_change(capsys):
    progress = Progress(GlobalOptions(), 2, bar=False)
    for result in results():
        progress(result)
    progress.close()
    assert capsys.readouterr().out.splitlines() == [
        "  applied  create credentials/a (new secret delivered)",
        "   failed  update roles/r: HTTP 500",
    ]


def test_terminal_gets_a_bar_and_only_the_problems_as_lines(capsys):
    progress = Progress(GlobalOptions(), 2, bar=True)
    for result in results():
        progress(result)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "failed  update roles/r: HTTP 500" in captured.err
    assert "create credentials/a" not in captured.err
