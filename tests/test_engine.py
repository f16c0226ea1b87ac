"""A plan overlaps loading the desired state with reading the live state (engine.session with prefetch)."""

import threading

import pytest

from keyform import engine
from keyform.cli.errors import user_message
from keyform.errors import ApprovalNeededError, StalePlanError
from keyform.model import DesiredState
from keyform.ui import RecordingUI
from tests.fakes import FakeProvider

CONFIG = """\
version: 1
provider:
  type: keyform
  url: http://127.0.0.1:9
  token: ${env:KEYFORM_TEST_TOKEN}
users:
  A@X.example:
    first_name: A
    last_name: X
"""


def test_the_desired_side_of_the_diff_is_built_while_the_live_read_is_under_way(tmp_path, monkeypatch):
    built = threading.Event()
    build_resources = DesiredState._build_resources

    def recording(self):
        built.set()
        yield from build_resources(self)

    monkeypatch.setattr(DesiredState, "_build_resources", recording)
    waited: list[bool] = []

    class SlowRead(FakeProvider):
        def read(self):
            waited.append(built.wait(timeout=10))  # the read ends only once the desired side exists
            return super().read()

    monkeypatch.setenv("KEYFORM_TEST_TOKEN", "kfk_not_used")
    monkeypatch.setattr(engine, "load_provider", lambda settings: SlowRead())
    (tmp_path / "keyform.yaml").write_text(CONFIG)

    with engine.session(engine.Settings(directory=tmp_path), prefetch=True) as run:
        result = run.plan()

    assert waited == [True]
    assert [(c.action.value, c.address) for c in result.plan.changes] == [("create", "users/a@x.example")]


def test_a_provider_prepares_its_read_in_the_callers_thread_before_the_read_starts(tmp_path, monkeypatch):
    seen: list[tuple[str, str]] = []

    class Preparing(FakeProvider):
        def prepare_read(self):
            seen.append(("prepare", threading.current_thread().name))

        def read(self):
            seen.append(("read", threading.current_thread().name))
            return super().read()

    _workspace(tmp_path, monkeypatch, Preparing())

    with engine.session(engine.Settings(directory=tmp_path), prefetch=True) as run:
        run.plan()

    main = threading.main_thread().name
    assert [step for step, _ in seen] == ["prepare", "read"]
    assert seen[0][1] == main and seen[1][1] != main


def _workspace(tmp_path, monkeypatch, provider):
    monkeypatch.setenv("KEYFORM_TEST_TOKEN", "kfk_not_used")
    monkeypatch.setattr(engine, "load_provider", lambda settings: provider)
    (tmp_path / "keyform.yaml").write_text(CONFIG)


def test_a_library_caller_applies_through_its_ui_and_nothing_is_printed(tmp_path, monkeypatch, capsys):
    provider = FakeProvider()
    _workspace(tmp_path, monkeypatch, provider)
    ui = RecordingUI.answering(answers=["yes"])
    with engine.session(engine.Settings(directory=tmp_path, ui=ui)) as run:
        report = engine.converge(run)
    assert report is not None and report.ok
    assert ui.asked == ["Apply these changes? Only 'yes' is accepted"]
    assert "+ users/a@x.example" in ui.out[0]  # the plan
    assert ui.out[1:] == ["  applied  create users/a@x.example"]  # progress, one line per change
    assert capsys.readouterr() == ("", "")


def test_with_no_one_to_approve_nothing_is_applied_and_the_cli_names_the_flag(tmp_path, monkeypatch):
    provider = FakeProvider()
    _workspace(tmp_path, monkeypatch, provider)
    with engine.session(engine.Settings(directory=tmp_path)) as run, pytest.raises(ApprovalNeededError) as caught:
        engine.converge(run)
    assert str(caught.value) == "not applying: no terminal to confirm on"
    assert user_message(caught.value).endswith("; pass --auto-approve or apply a reviewed plan file")
    assert provider.read() == {}


def test_a_saved_plan_for_another_api_is_refused_as_stale(tmp_path, monkeypatch):
    provider = FakeProvider()
    _workspace(tmp_path, monkeypatch, provider)
    planfile = tmp_path / "plan.json"
    with engine.session(engine.Settings(directory=tmp_path)) as run:
        run.save_plan(run.plan().plan, planfile)
    monkeypatch.setattr(FakeProvider, "describe", lambda self: "http://elsewhere.example")
    with (
        engine.session(engine.Settings(directory=tmp_path)) as run,
        pytest.raises(
            StalePlanError, match=r"plan\.json was planned against fake://test, but provider\.url is http://"
        ),
    ):
        engine.apply_saved(run, planfile)
    assert provider.read() == {}
