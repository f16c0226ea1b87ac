"""`keyform fmt --diff`: a unified diff of each formatting change, through the command."""

from __future__ import annotations

from click.testing import CliRunner

from keyform.cli import main

UNFORMATTED = """\
version: 1
provider:
  type: keyform
  url: https://keyform.example
roles:
  reporting:
    permissions: {employees: [read]}
    description: Reports  # why it exists
"""


def _keyform(tmp_path, *args):
    return CliRunner().invoke(main, ["-C", str(tmp_path), *args])


def test_fmt_check_diff_shows_the_change_and_writes_nothing(tmp_path):
    (tmp_path / "keyform.yaml").write_text(UNFORMATTED)
    result = _keyform(tmp_path, "fmt", "--check", "--diff")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    path = tmp_path / "keyform.yaml"
    assert lines[:4] == [f"--- {path}", f"+++ {path}", "@@ -1,8 +1,10 @@", " version: 1"]
    assert lines[10:14] == [
        "   reporting:",
        "+    description: Reports  # why it exists",
        "     permissions: {employees: [read]}",
        "-    description: Reports  # why it exists",
    ]
    assert lines[-1].startswith("would reformat ") and lines[-1].endswith("keyform.yaml")
    assert (tmp_path / "keyform.yaml").read_text() == UNFORMATTED


def test_fmt_diff_writes_and_shows_and_a_canonical_file_shows_nothing(tmp_path):
    (tmp_path / "keyform.yaml").write_text(UNFORMATTED)
    written = _keyform(tmp_path, "fmt", "--diff")
    assert written.exit_code == 0, written.output
    assert "+    description: Reports  # why it exists" in written.stdout
    assert (tmp_path / "keyform.yaml").read_text() != UNFORMATTED
    again = _keyform(tmp_path, "fmt", "--check", "--diff")
    assert (again.exit_code, again.stdout) == (0, "")
