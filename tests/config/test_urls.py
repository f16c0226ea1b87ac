"""provider.url must be an http(s) URL: as written, or once its ${env:NAME} reference is resolved."""

import pytest
from click.testing import CliRunner

from keyform.cli import main
from tests.config.helpers import ENV

ROOT = """\
version: 1
provider:
  type: keyform
  url: {url}
  token: ${{env:KEYFORM_TOKEN}}
"""
EXPECTED = "keyform.yaml:4:8: provider.url: expected an http(s) URL like https://keyform.example.com"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("$KEYFORM_URL", "got '$KEYFORM_URL' (did you mean ${env:KEYFORM_URL}?)"),
        ("keyform.example.com", "got 'keyform.example.com' (it has no scheme (http:// or https://))"),
        ("ftp://keyform.example.com", "got 'ftp://keyform.example.com' (its scheme 'ftp' is not http or https)"),
        (
            "https://keyform.example.com:99999",
            "got 'https://keyform.example.com:99999' (its port is not a number from 1 to 65535)",
        ),
        (
            "https://keyform.example.com:http",
            "got 'https://keyform.example.com:http' (its port is not a number from 1 to 65535)",
        ),
        (
            '"https://keyform.example.com\\n"',
            "got 'https://keyform.example.com\\n' (it contains a space, newline or control character)",
        ),
        ("https://", "got 'https://' (it has no host)"),
    ],
)
def test_a_literal_url_that_is_not_http_is_refused_naming_the_setting_and_the_form(project, url, why):
    project.write("keyform.yaml", ROOT.format(url=url))
    assert project.errors() == [f"{EXPECTED}, {why}"]


def test_an_http_url_is_fine(project):
    project.write("keyform.yaml", ROOT.format(url="http://127.0.0.1:8750"))
    assert project.load().provider.options["url"] == "http://127.0.0.1:8750"


def test_a_reference_is_checked_once_resolved_without_echoing_the_value(project):
    project.write("keyform.yaml", ROOT.format(url="${env:KEYFORM_URL}"))
    errors = project.errors(environ={**ENV, "KEYFORM_URL": "keyform.internal:8750"})
    assert errors == [
        f"{EXPECTED}, but ${{env:KEYFORM_URL}} resolves to a value where it has no scheme (http:// or https://):"
        " set KEYFORM_URL to such a URL"
    ]
    assert "keyform.internal" not in errors[0]


def test_validate_refuses_a_shell_variable_as_url_and_no_env_skips_only_references(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEYFORM_TOKEN", "test-token")
    monkeypatch.setenv("KEYFORM_URL", "not a url")
    (tmp_path / "keyform.yaml").write_text(ROOT.format(url="$KEYFORM_URL"))
    result = CliRunner().invoke(main, ["validate", "--no-env"])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{EXPECTED}, got '$KEYFORM_URL' (did you mean ${{env:KEYFORM_URL}}?)\n",
    )
    (tmp_path / "keyform.yaml").write_text(ROOT.format(url="${env:KEYFORM_URL}"))
    assert CliRunner().invoke(main, ["validate", "--no-env"]).exit_code == 0
    refused = CliRunner().invoke(main, ["validate"])
    assert refused.exit_code == 1
    assert "resolves to a value where it contains a space, newline or control character" in refused.stderr


def test_every_url_option_of_any_provider_is_checked(tmp_path):
    (tmp_path / "keyform.yaml").write_text(
        "version: 1\nprovider:\n  type: other\n  auth_url: keystone.example.com/v3\n  api_url: https://ok.example.com\n"
    )
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "validate"])
    assert result.exit_code == 1
    assert (
        "keyform.yaml:4:13: provider.auth_url: expected an http(s) URL like https://keyform.example.com,"
        " got 'keystone.example.com/v3' (it has no scheme (http:// or https://))"
    ) in result.output
    assert "api_url" not in result.output
