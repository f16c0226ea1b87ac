import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyform.config import load_desired_state
from keyform.errors import ConfigError, Location
from keyform.model import DesiredState
from tests.config.helpers import ENV, HEADER

EXAMPLE = Path(__file__).parents[2] / "examples" / "keyform.yaml"


def test_a_missing_root_file_is_a_config_error(project):
    with pytest.raises(ConfigError, match=r"^gone.yaml: cannot read: no such file$"):
        load_desired_state(Path("gone.yaml"), environ=ENV)


def test_problems_are_sorted_by_file_then_position_and_each_place_reported_once(project):
    project.write_root(
        """\
        include: [b.yaml]
        users:
          x@acme.example: {first_name: 1, last_name: B, roles: [nope]}
        roles:
          r: {description: 5}
        """
    )
    project.write("b.yaml", "roles:\n  kfk_AbCdEfGhIjKlMnOpQrStUvWxYz: {}\n  q: {permisions: {}}\n")
    assert project.errors() == [
        "keyform.yaml:8:32: users.x@acme.example.first_name: expected a string, got a number",
        "keyform.yaml:8:57: users.x@acme.example: unknown role 'nope'",
        "keyform.yaml:10:20: roles.r.description: expected a string, got a number",
        "b.yaml:2:3: this looks like a keyform secret (kfk_...): never write secrets in desired-state files (remove"
        " it, and rotate it if the file was shared)",
        "b.yaml:3:7: unknown key 'permisions' in roles.q (did you mean 'permissions'?)",
    ]


def test_a_valid_state_is_parsed_once_and_positions_are_read_only_for_a_problem(project, monkeypatch):
    from keyform.config import yaml_loader

    positioned = []
    full_pass = yaml_loader.positions
    monkeypatch.setattr(
        yaml_loader, "positions", lambda text, display: positioned.append(display) or full_pass(text, display)
    )
    project.write_root("include: [more.yaml]\nroles:\n  r: {description: R}\n")
    project.write("more.yaml", "users:\n  a@acme.example: {first_name: A, last_name: B, role: standard}\n")
    state = project.load()
    assert positioned == []
    assert state.locations["users/a@acme.example"] == Location("more.yaml", 2, 3)
    assert positioned == ["more.yaml"]  # asking for a location reads the positions of that file only
    project.write("more.yaml", "users:\n  a@acme.example: {first_name: A, last_name: B, role: nope}\n")
    positioned.clear()
    assert project.errors() == [
        "more.yaml:2:55: users.a@acme.example.role: must be account_owner, account_admin or standard, not 'nope'"
    ]
    assert positioned == ["more.yaml"]


# -- property: whatever the input, loading ends in a DesiredState or a ConfigError ------------------------------

VALID = EXAMPLE.read_text(encoding="utf-8")
TOKENS = [*"abc xyz:-[]{},'\"&*!|>#%@`\n\t\\$01.~?", "${env:", "kfk_", "é", "\x00", "\u2028", "  ", "roles", "users"]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def _json_like():
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=20,
    )


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    for position, length, insert in edits:
        position %= len(text) + 1
        text = text[:position] + insert + text[position + length :]
    return text


SECTION = st.sampled_from(
    ["version", "provider", "secrets", "safety", "include", "organization", "roles", "users", "credentials"]
)
EDITS = st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 8), YAMLISH.filter(lambda s: len(s) < 10)), max_size=6)
INPUTS = st.one_of(
    YAMLISH.map(lambda text: ("text", text)),
    EDITS.map(lambda edits: ("text", _mutate(VALID, edits))),
    _json_like().map(lambda data: ("data", data)),
    st.dictionaries(SECTION, _json_like(), max_size=5).map(
        lambda data: ("data", {**yaml.safe_load(textwrap.dedent(HEADER)), **data})
    ),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(INPUTS, st.booleans())
def test_any_input_ends_in_a_desired_state_or_a_config_error(tmp_path_factory, case, resolve_env):
    base = tmp_path_factory.mktemp("prop")
    (base / "access").mkdir()
    (base / "access" / "x.yaml").write_text("roles: {}\n", encoding="utf-8")
    kind, content = case
    text = content if kind == "text" else yaml.safe_dump(content, allow_unicode=True)
    path = base / "keyform.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        state = load_desired_state(path, environ=ENV, resolve_env=resolve_env)
    except ConfigError as error:
        assert error.problems
        assert all(str(problem) and "\n" not in str(problem) for problem in error.problems)
    else:
        assert isinstance(state, DesiredState)
