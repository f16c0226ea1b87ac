"""keyform.fmt and `keyform fmt`: canonical order and indentation, comments kept, idempotent, safe writes."""

import os
import stat
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyform.cli import main
from keyform.contract import Kind
from keyform.errors import ConfigError, KeyformError
from keyform.fmt import SETTINGS_ORDER, format_text, format_tree
from keyform.providers.keyform import KeyformProvider
from tests.fakes import FakeProvider

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TOP_LEVEL_ORDER = [*SETTINGS_ORDER, "organization", "roles", "users", "credentials"]


def fmt(text: str, **options) -> str:
    return format_text(textwrap.dedent(text), **options)


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def keys_in_order(text: str, indent: int) -> list[str]:
    prefix = " " * indent
    return [
        line.strip().split(":")[0]
        for line in text.splitlines()
        if line.startswith(prefix) and line[indent : indent + 1] not in (" ", "#", "-", "") and ":" in line
    ]


# --- the examples ------------------------------------------------------------------------------


def test_the_examples_are_canonical():
    result = run("-C", str(EXAMPLES), "fmt", "--check")
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_the_examples_keep_their_meaning_and_comments_when_names_are_sorted():
    results = format_tree(EXAMPLES / "keyform.yaml", sort_names=True)
    assert [r.path.name for r in results] == ["keyform.yaml", "credentials.yaml", "people.yaml", "roles.yaml"]
    for result in results:
        assert yaml.safe_load(result.text) == yaml.safe_load(result.original)
        comments = sorted(line.split("#", 1)[1] for line in result.original.splitlines() if "#" in line)
        assert sorted(line.split("#", 1)[1] for line in result.text.splitlines() if "#" in line) == comments
        assert format_text(result.text, sort_names=True) == result.text


# --- canonical order ---------------------------------------------------------------------------


def test_top_level_keys_follow_the_canonical_order():
    text = fmt(
        """\
        users: {}
        include: [a.yaml]
        version: 1
        credentials: {}
        provider: {type: keyform}
        organization: {api_access: true}
        roles: {}
        safety: {unmanaged: report}
        secrets: {type: file, path: s.json}
        """
    )
    assert keys_in_order(text, 0) == TOP_LEVEL_ORDER
    assert "\n\n" in text and "\n\n\n" not in text  # one blank line between sections


def test_resource_keys_follow_a_fixed_order_and_unknown_keys_come_last():
    text = fmt(
        """\
        users:
          a@x.example:
            api_key: {rotate_after: 90d, enabled: true}
            zzz_unknown: 1
            archived: false
            roles: [r]
            role: standard
            last_name: A
            cognitive_access: false
            first_name: A
            default_folder: x
            job_title: T
        roles:
          r:
            attributes: [a]
            permissions: {employees: [read]}
            description: d
        credentials:
          c:
            rotation_requested: 2026-12-01
            rotation_overlap: 1h
            rotate_after: 30d
            attributes: [a]
            permissions:
              employees: [read]
            roles: [r]
            enabled: true
            integration: X
        """
    )
    order = {kind.name: kind.key_order for kind in KeyformProvider.kinds}
    assert keys_in_order(text, 4) == [*order["roles"], *order["users"], "zzz_unknown", *order["credentials"]]
    assert "api_key: {enabled: true, rotate_after: 90d}" in text


def test_block_api_key_settings_are_ordered():
    text = fmt(
        """\
        users:
          a@x.example:
            first_name: A
            api_key:
              rotate_after: 90d
              enabled: true
        """
    )
    assert text.endswith("    api_key:\n      enabled: true\n      rotate_after: 90d\n")


def test_permission_levels_are_read_then_write_in_flow_and_block_style():
    text = fmt(
        """\
        roles:
          r:
            permissions:
              employees: [write, read]
              absences:
                - write  # the one that matters
                - read
        """
    )
    assert "employees: [read, write]" in text
    assert "    - read\n        - write  # the one that matters\n" in text


def test_resource_names_keep_their_order_unless_sorting_is_asked_for():
    source = "roles:\n  b:\n    description: B\n\n  a:\n    description: A\n"
    assert format_text(source) == source
    assert format_text(source, sort_names=True) == "roles:\n  a:\n    description: A\n\n  b:\n    description: B\n"


# --- comments and layout -----------------------------------------------------------------------

MESSY = """\
# Staff with API access.
users:
  # Zed runs the place.
  zed@x.example:   # the owner
    roles: [a]     # custom roles
    first_name: Zed
    # about Zed, inside his entry
  # Amy joined in May.

  # (second paragraph about Amy)
  amy@x.example:
    last_name: A
    first_name: Amy
version: 1   # format version
"""


def test_comments_move_with_the_entries_they_belong_to():
    text = format_text(MESSY, sort_names=True)
    assert text == textwrap.dedent(
        """\
        # Staff with API access.
        version: 1   # format version

        users:
          # Amy joined in May.

          # (second paragraph about Amy)
          amy@x.example:
            first_name: Amy
            last_name: A

          # Zed runs the place.
          zed@x.example:   # the owner
            first_name: Zed
            roles: [a]     # custom roles
            # about Zed, inside his entry
        """
    )


def test_formatting_twice_changes_nothing():
    for source in (MESSY, (EXAMPLES / "access" / "people.yaml").read_text(encoding="utf-8")):
        for sort_names in (False, True):
            once = format_text(source, sort_names=sort_names)
            assert format_text(once, sort_names=sort_names) == once


def test_indentation_becomes_two_spaces_with_sequences_indented_under_their_key():
    text = fmt(
        """\
        version: 1
        include:
        - a.yaml
        safety:
            protect:
                -   users/a@x.example
        """
    )
    assert text == "version: 1\n\nsafety:\n  protect:\n    - users/a@x.example\n\ninclude:\n  - a.yaml\n"


def test_quotes_block_scalars_and_empty_values_are_kept():
    source = "roles:\n  r:\n    description: |\n      two\n      lines\n    attributes:\n  s:\n    description: '\\x'\n"
    assert format_text(source) == source.replace("    attributes:\n  s:", "    attributes:\n\n  s:")


def test_the_file_ends_with_one_newline_and_rounds_reach_a_fixed_point():
    assert format_text("roles:\n  a: {}\n\n\n") == "roles:\n  a: {}\n"
    assert format_text("version: 1") == "version: 1\n"
    assert format_text("? users\n: {}\nversion: 1\n") == "version: 1\n\nusers: {}\n"


def test_a_change_of_meaning_is_refused_not_written():
    keep = "roles:\n  b:\n    description: y\n  a:\n    description: |+\n      text\n"  # |+ keeps blank lines
    with pytest.raises(KeyformError, match=r"^k.yaml: cannot format this file without changing its meaning"):
        format_text(keep, display="k.yaml", sort_names=True)


def test_a_file_that_is_not_a_mapping_is_left_alone():
    for source in ("", "# only a comment\n", "- a\n- b\n"):
        assert format_text(source) == source


def test_invalid_yaml_is_one_problem_with_its_position():
    with pytest.raises(ConfigError) as raised:
        format_text("users:\n  a: [1,\n", display="bad.yaml")
    assert str(raised.value) == "bad.yaml:3:1: invalid YAML: expected the node content, but found '<stream end>'"
    with pytest.raises(ConfigError, match=r'^dup.yaml:3:3: invalid YAML: found duplicate key "a"'):
        format_text("users:\n  a: {}\n  a: {}\n", display="dup.yaml")


@st.composite
def desired_states(draw):
    names = st.text(alphabet="abcdefgh-", min_size=1, max_size=6).filter(lambda name: name[0] != "-")
    levels = st.lists(st.sampled_from(["read", "write"]), min_size=1, max_size=2, unique=True)
    role = st.fixed_dictionaries(
        {},
        optional={
            "description": st.text(alphabet="ab #:\n", max_size=12),
            "permissions": st.dictionaries(st.sampled_from(["employees", "absences"]), levels),
            "attributes": st.lists(st.sampled_from(["first_name", "iban"]), unique=True),
        },
    )
    user = st.fixed_dictionaries(
        {"first_name": st.text(alphabet="ab", min_size=1, max_size=3)},
        optional={
            "last_name": st.just("X"),
            "roles": st.lists(names, max_size=2),
            "archived": st.booleans(),
            "api_key": st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "rotate_after": st.just("9d")}),
        },
    )
    sections = {
        "version": st.just(1),
        "roles": st.dictionaries(names, role, max_size=3),
        "users": st.dictionaries(names.map(lambda name: f"{name}@x.example"), user, max_size=3),
    }
    keys = draw(st.permutations(list(sections)))
    return {key: draw(sections[key]) for key in keys}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=desired_states(), indent=st.sampled_from([2, 4]), flow=st.sampled_from([None, False]), sort=st.booleans())
def test_any_desired_state_keeps_its_meaning_and_formats_once(state, indent, flow, sort):
    source = yaml.safe_dump(state, sort_keys=False, indent=indent, default_flow_style=flow, allow_unicode=True)
    once = format_text(source, sort_names=sort)
    assert yaml.safe_load(once) == _with_sorted_levels(state)
    assert format_text(once, sort_names=sort) == once
    assert keys_in_order(once, 0) == [key for key in TOP_LEVEL_ORDER if key in state]


def _with_sorted_levels(state: dict) -> dict:
    roles = {
        name: {**role, "permissions": {m: sorted(v) for m, v in role["permissions"].items()}}
        if "permissions" in role
        else role
        for name, role in state.get("roles", {}).items()
    }
    return {**state, "roles": roles} if "roles" in state else state


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "access" / "more").mkdir(parents=True)
    (tmp_path / "keyform.yaml").write_text("version: 1\ninclude:\n  - access/*.yaml\n", encoding="utf-8")
    (tmp_path / "access" / "roles.yaml").write_text(
        "roles:\n  r:\n    attributes: [a]\n    description: d\n", encoding="utf-8"
    )
    (tmp_path / "access" / "users.yaml").write_text(
        "include: [more/*.yaml]\n\nusers:\n  a@x.example:\n    first_name: A\n", encoding="utf-8"
    )
    (tmp_path / "access" / "more" / "creds.yaml").write_text(
        "credentials:\n  c:\n    enabled: true\n    integration: X\n", encoding="utf-8"
    )
    (tmp_path / "access" / "roles.yaml").chmod(0o640)
    return tmp_path


def test_check_lists_the_files_that_would_change_and_changes_nothing(tree, monkeypatch):
    monkeypatch.chdir(tree)
    before = {path: path.read_text(encoding="utf-8") for path in tree.rglob("*.yaml")}
    result = run("fmt", "--check")
    assert result.exit_code == 1
    assert result.output == (
        "would reformat keyform.yaml\nwould reformat access/roles.yaml\nwould reformat access/more/creds.yaml\n"
    )
    assert {path: path.read_text(encoding="utf-8") for path in tree.rglob("*.yaml")} == before


def test_fmt_rewrites_only_the_files_that_change(tree, monkeypatch):
    monkeypatch.chdir(tree)
    untouched = tree / "access" / "users.yaml"
    os.utime(untouched, (1_000_000, 1_000_000))
    result = run("fmt")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "reformatted keyform.yaml\nreformatted access/roles.yaml\nreformatted access/more/creds.yaml\n"
    )
    assert untouched.stat().st_mtime == 1_000_000
    assert (tree / "access" / "roles.yaml").read_text(encoding="utf-8") == (
        "roles:\n  r:\n    description: d\n    attributes: [a]\n"
    )
    assert stat.S_IMODE((tree / "access" / "roles.yaml").stat().st_mode) == 0o640
    assert not [path for path in tree.rglob("*") if path.name.endswith(".tmp")]
    assert run("fmt", "--check").exit_code == 0


def test_fmt_with_global_options_and_explicit_files(tree, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert run("-C", str(tree), "fmt", "--check").exit_code == 1
    result = run("-C", str(tree), "fmt", "access/roles.yaml")
    assert result.exit_code == 0
    assert result.output.startswith("reformatted ") and result.output.rstrip().endswith("access/roles.yaml")
    result = run("--config", str(tree / "access" / "users.yaml"), "fmt", "--check")  # includes are relative to it
    assert (result.exit_code, result.output) == (1, f"would reformat {tree / 'access' / 'more' / 'creds.yaml'}\n")


def test_invalid_yaml_is_one_line_error_and_nothing_is_written(tree, monkeypatch):
    monkeypatch.chdir(tree)
    (tree / "access" / "broken.yaml").write_text("users:\n  b@x.example: [1,\n", encoding="utf-8")
    before = (tree / "keyform.yaml").read_text(encoding="utf-8")
    result = run("fmt")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: access/broken.yaml:3:1: invalid YAML: expected the node content, but found '<stream end>'\n"
    )
    assert (tree / "keyform.yaml").read_text(encoding="utf-8") == before


def test_missing_root_and_missing_files_are_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("fmt")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no keyform.yaml in ")
    result = run("fmt", "nope.yaml")
    assert (result.exit_code, result.stderr) == (1, "Error: nope.yaml: cannot read: no such file or directory\n")


# --- any provider's kinds ------------------------------------------------------------------------


class ShelfProvider(FakeProvider):
    """A provider whose kinds are not the keyform server's: fmt orders files by what it declares."""

    kinds = (
        Kind(name="shelves", noun="shelf", key_order=("label", "rows"), nested_order={"rows": ("top", "bottom")}),
        Kind(name="books", noun="book", references={"shelf": "shelves"}, list_order={"tags": ("new", "old")}),
    )


def test_a_providers_own_kinds_and_keys_set_the_order(monkeypatch):
    entry = metadata.EntryPoint("shelf", "tests.test_fmt:ShelfProvider", "keyform.providers")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [entry] if group == entry.group else [])
    text = fmt(
        """        books:
          b:
            tags: {genre: [old, new]}
            shelf: s
        shelves:
          s:
            rows: {bottom: 1, top: 2}
            label: S
        provider: {type: shelf}
        version: 1
        """
    )
    assert keys_in_order(text, 0) == ["version", "provider", "shelves", "books"]
    assert keys_in_order(text, 4) == ["label", "rows", "tags", "shelf"]
    assert "rows: {top: 2, bottom: 1}" in text
    assert "genre: [new, old]" in text
