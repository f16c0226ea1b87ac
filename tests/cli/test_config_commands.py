import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from keyform.cli import main
from tests.config.helpers import ENV, HEADER

OK_BODY = """\
roles:
  hr-reader: {permissions: {employees: [read]}}
users:
  a@acme.example: {first_name: A, last_name: B, roles: [hr-reader]}
  b@acme.example: {first_name: C, last_name: D}
credentials:
  sync: {roles: [hr-reader]}
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def run(*args):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def write(base, files):
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def test_validate_prints_one_summary_line_and_exits_0(workdir):
    write(workdir, {"keyform.yaml": HEADER + OK_BODY})
    result = run("validate")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "keyform.yaml: valid (1 role, 2 users, 1 credential)\n",
        "",
    )


def test_validate_honours_config_and_directory_options(workdir):
    write(workdir, {"team/keyform.yaml": HEADER, "team/other.yaml": HEADER + OK_BODY})
    assert run("-C", "team", "validate").stdout == "team/keyform.yaml: valid (0 roles, 0 users, 0 credentials)\n"
    assert run("--config", "team/other.yaml", "validate").stdout.startswith("team/other.yaml: valid (1 role")
    assert run("-C", "team", "--config", "other.yaml", "validate").stdout.startswith("team/other.yaml: valid")


def test_validate_no_env_checks_references_without_the_environment(workdir, monkeypatch):
    write(workdir, {"keyform.yaml": HEADER})
    monkeypatch.delenv("KEYFORM_TOKEN")
    result = run("validate")
    assert (result.exit_code, result.stderr) == (
        1,
        "keyform.yaml:5:10: environment variable KEYFORM_TOKEN is not set (used by provider.token)\n",
    )
    assert run("validate", "--no-env").exit_code == 0


ROLE = "roles:\n  r: {}\n"
CASES = {
    "malformed YAML": (
        {"keyform.yaml": HEADER + "roles: [\n"},
        ["keyform.yaml:7:1: malformed YAML: did not find expected node content (while parsing a flow node)"],
    ),
    "wrong type": (
        {"keyform.yaml": HEADER + "users:\n  a@acme.example: {first_name: 7, last_name: B}\n"},
        ["keyform.yaml:7:32: users.a@acme.example.first_name: expected a string, got a number"],
    ),
    "unknown key": (
        {"keyform.yaml": HEADER + "roles:\n  r: {permisions: {}}\n"},
        ["keyform.yaml:7:7: unknown key 'permisions' in roles.r (did you mean 'permissions'?)"],
    ),
    "unset env var": (
        {"keyform.yaml": HEADER.replace("KEYFORM_URL", "ACME_UNSET_URL")},
        ["keyform.yaml:4:8: environment variable ACME_UNSET_URL is not set (used by provider.url)"],
    ),
    "duplicate key": (
        {"keyform.yaml": HEADER + ROLE + ROLE},
        ["keyform.yaml:8:1: duplicate key 'roles' (first defined at line 6): remove one"],
    ),
    "include cycle": (
        {"keyform.yaml": HEADER + "include: [a.yaml]\n", "a.yaml": "include: [keyform.yaml]\n"},
        ["a.yaml:1:11: include cycle: keyform.yaml -> a.yaml -> keyform.yaml"],
    ),
    "missing include": (
        {"keyform.yaml": HEADER + "include: [teams/*.yaml]\n"},
        [
            "keyform.yaml:6:11: include 'teams/*.yaml' matches no files (patterns are relative to the folder of"
            " keyform.yaml)"
        ],
    ),
    "non-UTF-8": (
        {"keyform.yaml": HEADER.encode() + b"roles:\n  r: {description: \xff}\n"},
        ["keyform.yaml:7:20: not valid UTF-8 (byte 0xff): save the file as UTF-8"],
    ),
    "empty file": ({"keyform.yaml": ""}, ["keyform.yaml:1:1: empty file: expected a mapping with version: 1"]),
    "secret literal": (
        {"keyform.yaml": HEADER.replace("${env:KEYFORM_TOKEN}", "hunter2")},
        [
            "keyform.yaml:5:10: provider.token must be an ${env:NAME} reference, not a literal secret (put the value"
            " in an environment variable)"
        ],
    ),
    "alias bomb": (
        {"keyform.yaml": HEADER + "x: &a [1, 1, 1]\ny: &b [*a, *a, *a]\nz: [*b, *b, *b]\n"},
        ["keyform.yaml:7:8: YAML aliases (*name) are not supported: write the value out in full"],
    ),
    "deep nesting": (
        {"keyform.yaml": HEADER + "x: " + "[" * 100 + "]" * 100 + "\n"},
        ["keyform.yaml:6:67: nested deeper than 64 levels"],
    ),
    "duplicate resource across files": (
        {"keyform.yaml": HEADER + "include: [a.yaml]\n" + ROLE, "a.yaml": ROLE},
        ["a.yaml:2:3: roles/r is already defined at keyform.yaml:8:3"],
    ),
    "case-duplicate emails": (
        {
            "keyform.yaml": HEADER + "users:\n  a@acme.example: {first_name: A, last_name: B}\n"
            "  A@Acme.Example: {first_name: A, last_name: B}\n"
        },
        [
            "keyform.yaml:8:3: users/a@acme.example is already defined at keyform.yaml:7:3 (emails are compared"
            " case-insensitively)"
        ],
    ),
    "unknown role": (
        {"keyform.yaml": HEADER + ROLE + "credentials:\n  c: {roles: [rr]}\n"},
        ["keyform.yaml:9:15: credentials.c: unknown role 'rr' (did you mean 'r'?)"],
    ),
    "unknown module": (
        {"keyform.yaml": HEADER + "roles:\n  r: {permissions: {employes: [read]}}\n"},
        ["keyform.yaml:7:21: roles.r: unknown module 'employes' (did you mean 'employees'?)"],
    ),
    "unknown attribute": (
        {"keyform.yaml": HEADER + "roles:\n  r: {attributes: [salery]}\n"},
        ["keyform.yaml:7:20: roles.r: unknown attribute 'salery' (did you mean 'salary'?)"],
    ),
    "write on read-only module": (
        {"keyform.yaml": HEADER + "roles:\n  r: {permissions: {custom_reports: [write]}}\n"},
        ["keyform.yaml:7:38: roles.r.permissions.custom_reports: module 'custom_reports' is read only: remove 'write'"],
    ),
    "bad duration": (
        {"keyform.yaml": HEADER + "credentials:\n  c: {rotate_after: 3 months}\n"},
        [
            "keyform.yaml:7:21: credentials.c.rotate_after: '3 months' is not a duration: use a whole number and a"
            " unit (s, m, h, d or w), e.g. 90d"
        ],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_validate_reports_each_problem_as_file_line_column_and_exits_1(workdir, case):
    files, expected = CASES[case]
    write(workdir, files)
    result = run("validate")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected


def test_validate_reports_every_problem_at_once(workdir):
    write(
        workdir,
        {
            "keyform.yaml": HEADER.replace("KEYFORM_URL", "ACME_UNSET_URL")
            + "include: [a.yaml]\nroles:\n  r: {permisions: {}}\n  q: {attributes: [salery]}\n",
            "a.yaml": "users:\n  a@acme.example: {first_name: A, last_name: B, roles: [rr]}\n"
            "  a@acme.example: {}\ncredentials:\n  c: {rotate_after: 1d, rotation_overlap: 2d}\n",
        },
    )
    result = run("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "keyform.yaml:4:8: environment variable ACME_UNSET_URL is not set (used by provider.url)",
        "keyform.yaml:8:7: unknown key 'permisions' in roles.r (did you mean 'permissions'?)",
        "keyform.yaml:9:20: roles.q: unknown attribute 'salery' (did you mean 'salary'?)",
        "a.yaml:2:57: users.a@acme.example: unknown role 'rr' (did you mean 'r'?)",
        "a.yaml:3:3: duplicate key 'a@acme.example' (first defined at line 2): remove one",
        "a.yaml:5:43: credentials.c.rotation_overlap must be shorter than rotate_after (2d is not shorter than 1d)",
    ]


def test_validate_without_a_keyform_yaml_says_how_to_fix(workdir):
    result = run("validate")
    assert result.exit_code == 1
    assert result.stderr == f"no keyform.yaml in {workdir.resolve()} (create one, or pass --config FILE)\n"
    result = run("--config", "nope.yaml", "validate")
    assert (result.exit_code, result.stderr) == (1, "nope.yaml: cannot read: no such file\n")


def test_schema_prints_a_valid_2020_12_schema(workdir):
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["version", "provider"]


def test_the_committed_schema_is_what_keyform_schema_prints_so_editors_see_every_kind(workdir):
    # Editors read schemas/keyform.schema.json (examples/keyform.yaml names it in its first line):
    # it must be the assembled schema of the keyform provider, kinds included, not the shared settings.
    committed = Path(__file__).resolve().parents[2] / "schemas" / "keyform.schema.json"
    result = run("schema")
    assert result.stdout == committed.read_text(encoding="utf-8"), (
        "schemas/keyform.schema.json is stale: run `keyform schema > src/keyform/schemas/keyform.schema.json`"
    )
    assert {"organization", "roles", "users", "credentials"} <= set(json.loads(result.stdout)["properties"])
