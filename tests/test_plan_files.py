"""Saved plan files (engine.save_plan / read_plan) and the text plan's styles (engine.render)."""

import io
import sys

import click
import pytest

from keyform import engine
from keyform.cli import GlobalOptions
from keyform.contract import Action, Change, Risk, RiskCategory
from keyform.errors import KeyformError
from keyform.plan.plan import Plan


def plan_with_risks() -> Plan:
    return Plan.from_changes(
        [
            Change(Action.CREATE, "users/jürgen@x.example", after={"first_name": "Jürgen", "roles": ["reader"]}),
            Change(
                Action.UPDATE,
                "credentials/sync",
                {"permissions": {"employees": ["read"]}},
                {"permissions": {"employees": ["read", "write"]}},
                "id-1",
                '"2"',
                risks=(Risk(RiskCategory.ESCALATION, "credentials/sync gains employees:write"),),
            ),
        ],
        meta={"target": "http://127.0.0.1:1"},
    )


def test_a_saved_plan_reads_back_equal_and_keeps_text_as_utf8(tmp_path):
    path = tmp_path / "plan.json"
    engine.save_plan(plan_with_risks(), path)
    raw = path.read_bytes()
    assert "Jürgen".encode() in raw and b"\\u00fc" not in raw  # UTF-8, not \u-escaped
    assert raw.startswith(b'{\n  "format_version": "1",') and raw.endswith(b"}\n")
    assert engine.read_plan(path) == plan_with_risks()


@pytest.mark.parametrize(
    "content", [b'{"format_version": "1", "changes": [', b'{"format_version": "1", "meta": {"target": "\xff"}}']
)
def test_a_damaged_plan_file_is_one_line_naming_the_file_and_the_fix(tmp_path, content):
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(KeyformError, match=r"plan file .*plan\.json can't be read as JSON \(.+\): make the plan again"):
        engine.read_plan(path)


def test_unstyled_text_is_the_styled_text_without_its_codes():
    plan = plan_with_risks()
    styled, plain = engine.render(plan, "text"), engine.render(plan, "text", styled=False)
    assert "\x1b[" in styled and "\x1b[" not in plain
    assert plain == click.unstyle(styled)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stdout", "color", "styled"), [(Terminal, None, True), (Terminal, False, False), (io.StringIO, None, False)]
)
def test_text_is_styled_only_for_a_terminal_with_colours_on(monkeypatch, stdout, color, styled):
    monkeypatch.setattr(sys, "stdout", stdout())
    assert GlobalOptions(color=color).styled is styled
