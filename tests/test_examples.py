from pathlib import Path

from click.testing import CliRunner

from keyform.cli import main
from keyform.config import load_desired_state

EXAMPLES = Path(__file__).parents[1] / "examples"
ENV = {"KEYFORM_URL": "https://keys.acme.example", "KEYFORM_TOKEN": "example-token"}


def test_the_example_organisation_validates():
    state = load_desired_state(EXAMPLES / "keyform.yaml", environ=ENV)
    assert state.provider.type == "keyform"
    assert state.provider.options["url"] == "https://keys.acme.example"
    roles, users, credentials = state.of("roles"), state.of("users"), state.of("credentials")
    assert len(roles) >= 3
    assert len(users) >= 5
    assert len(credentials) >= 4
    payroll = credentials["payroll-sync"]
    assert (payroll["integration"], payroll["attributes"]) == ("DATEV", ["salary"])
    assert any(not credential["enabled"] for credential in credentials.values())
    assert any(user["role"] == "account_owner" for user in users.values())
    assert any(user["role"] == "account_admin" and state.has_secret(f"users/{email}") for email, user in users.items())
    assert {str(location).split(":")[0].rsplit("/", 2)[-2] for location in state.locations.values()} >= {"access"}


def test_the_example_validates_offline_and_through_the_cli(monkeypatch):
    monkeypatch.delenv("KEYFORM_URL", raising=False)
    monkeypatch.delenv("KEYFORM_TOKEN", raising=False)
    state = load_desired_state(EXAMPLES / "keyform.yaml", environ={}, resolve_env=False)
    assert state.provider.options["token"] == "${env:KEYFORM_TOKEN}"
    result = CliRunner().invoke(main, ["-C", str(EXAMPLES), "validate", "--no-env"])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("keyform.yaml: valid (3 roles, 6 users, 4 credentials)\n")
