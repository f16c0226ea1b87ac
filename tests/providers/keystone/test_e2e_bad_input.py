"""Bad input through the `keyform` command against a real Keystone: one line naming the resource and
the fix, exit 1, nothing applied, never a secret."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from keyform.cli import main
from tests.keystone_server import free_port
from tests.providers.keystone.cli import Workdir, add_services


@pytest.fixture
def work(keystone, tmp_path) -> Workdir:
    return Workdir.of_example(keystone, tmp_path)


def refused(work: Workdir, *args: str, env: dict[str, str] | None = None) -> str:
    """The one error line of a keyform command that must fail and change nothing."""
    result = work.keyform(*args, env=env)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert work.keystone.admin_password not in result.output
    assert not work.secrets()
    live = work.cloud().read_all()
    assert not any(resource.managed for resource in live.values()), "something was applied"
    return lines[0]


def test_a_wrong_auth_url_names_the_setting(work):
    url = f"http://127.0.0.1:{free_port()}/v3"

    line = refused(work, "plan", env={"OS_AUTH_URL": url})

    assert line == f"Error: authentication: cannot reach Keystone at {url}: check provider.auth_url (OS_AUTH_URL)"


def test_a_wrong_password_names_the_user_and_never_the_password(work):
    line = refused(work, "apply", "--auto-approve", env={"OS_PASSWORD": "wrong-password-1234"})

    assert line == (
        f"Error: Keystone at {work.keystone.url} refused user 'admin' (domain 'Default') on project 'admin': "
        "check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the domain names"
    )


def test_a_role_the_owner_does_not_hold_is_refused_before_anything_changes(work):
    work.edit("application_credentials", "warehouse-loader", "roles", value=["member"])

    line = refused(work, "apply", "--auto-approve")

    assert (
        "application_credentials.warehouse-loader.roles: owner users/svc-warehouse-loader doesn't hold member" in line
    )
    assert line.endswith("grant it in users.svc-warehouse-loader.projects.data-platform or drop it from roles")


def test_a_project_that_does_not_exist_is_named(work):
    work.edit("application_credentials", "warehouse-loader", "project", value="data-platfrom")

    line = refused(work, "apply", "--auto-approve")

    assert "application_credentials.warehouse-loader: unknown project 'data-platfrom'" in line
    assert "did you mean 'data-platform'?" in line


def test_an_access_rule_for_an_unknown_service_is_refused_before_anything_changes(work):
    add_services(work.keystone)  # compute, image, object-store: the example's other rules are fine
    rules = [{"service": "compte", "method": "GET", "path": "/v2.1/servers"}]
    work.edit("application_credentials", "payments-ci-staging", "access_rules", value=rules)

    line = refused(work, "apply", "--auto-approve")

    assert line.startswith("Error: unsafe plan: application_credentials/payments-ci-staging: access rule for service")
    assert "'compte', which this cloud's catalog doesn't have (known: compute, identity, image, object-store)" in line
    assert "fix the service type" in line


def test_without_keystoneauth1_the_provider_says_how_to_install_it(work, monkeypatch):
    for name in [name for name in sys.modules if name.startswith(("keystoneauth1", "keyform.providers.keystone."))]:
        if name.startswith("keystoneauth1") or name.endswith((".client", ".cloud", ".verify")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "keystoneauth1", None)

    result = CliRunner().invoke(main, ["-C", str(work.path), "plan"], env=work.env, catch_exceptions=False)

    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "Error: provider: keystone needs keystoneauth1: install it with pip install 'keyform[keystone]'"
    )
    validated = CliRunner().invoke(main, ["-C", str(work.path), "validate", "--no-env"], catch_exceptions=False)
    assert validated.exit_code == 0, validated.output
