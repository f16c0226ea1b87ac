"""examples/keystone/keyform.yaml validates, offline and through the CLI, with the keystone provider's kinds."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from keyform.cli import main
from keyform.config import load_desired_state

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "keystone"
ENV = {
    "OS_AUTH_URL": "https://keystone.example:5000/v3",
    "OS_USERNAME": "admin",
    "OS_PASSWORD": "example-password",
    "OS_PROJECT_NAME": "admin",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
}


def test_the_keystone_example_validates_through_the_cli():
    result = CliRunner().invoke(main, ["-C", str(EXAMPLE), "validate", "--no-env"])

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("valid (3 projects, 1 role, 2 users, 3 application credentials)\n")


def test_the_keystone_example_loads_in_canonical_form():
    state = load_desired_state(EXAMPLE / "keyform.yaml", environ=ENV)

    assert state.provider.type == "keystone"
    deploy = state.of("application_credentials")["payments-ci-deploy"]
    assert deploy["expires_at"] == "2027-06-30T00:00:00Z"
    assert deploy["unrestricted"] is False
    assert [rule["service"] for rule in deploy["access_rules"]] == ["compute", "compute", "image"]
    assert state.of("users")["svc-payments-ci"]["projects"] == {
        "payments": ["deployer"],
        "payments-staging": ["deployer"],
    }
    assert state.has_secret("application_credentials/warehouse-loader")


def test_a_role_implied_by_another_listed_role_is_refused(tmp_path):
    text = (
        (EXAMPLE / "keyform.yaml")
        .read_text()
        .replace(
            'roles: [deployer]\n    expires_at: "2027-06-30',
            'roles: [deployer, member]\n    expires_at: "2027-06-30',
            1,
        )
    )
    (tmp_path / "keyform.yaml").write_text(text)

    result = CliRunner().invoke(main, ["-C", str(tmp_path), "validate", "--no-env"])

    assert result.exit_code == 1
    assert (
        "application_credentials.payments-ci-deploy.roles: member is implied by another listed role "
        "(Keystone adds implied roles by itself): drop it"
    ) in result.output
