"""keyform verify against the real server: delivered secrets work and grant exactly what is declared."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pyrage import x25519

from tests.e2e.conftest import EXAMPLE_SECRETS

SCHEMA = Path(__file__).resolve().parents[2] / "src" / "keyform" / "schemas" / "settings.schema.json"
ADDRESSES = EXAMPLE_SECRETS


def findings(result):
    return {line[5:].split(": ", 1)[0]: line for line in result.stdout.splitlines() if line[:5] in ("ok   ", "FAIL ")}


def test_verify_after_apply_is_all_ok(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    result = org.keyform("verify")
    assert result.exit_code == 0, result.output
    lines = findings(result)
    assert sorted(lines) == ADDRESSES
    assert lines["credentials/legacy-export"] == (
        "ok   credentials/legacy-export: refused as declared (the credential is declared disabled)"
    )
    assert lines["users/data.manager@acme.example"].startswith(
        "ok   users/data.manager@acme.example: account_admin: role checked"
    )
    assert lines["credentials/payroll-sync"] == "ok   credentials/payroll-sync: 9 grant(s) as declared"
    assert f"Verified 7 secret(s) from {org.secrets_file}: 7 ok, 0 failed." in result.stdout
    org.assert_no_secret_leaked()


def test_verify_names_drift_revocation_and_undeclared_secrets(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    org.patch("credentials", "bi-reporting", {"permissions": {"employees": ["read", "write"]}, "attributes": ["iban"]})
    tom = org.find("users", "tom.becker@acme.example")
    client = org.api()
    try:
        client.request(
            "PATCH", f"/v1/users/{tom['id']}/api-key", what="tom", json={"enabled": False}, if_match=tom["etag"]
        )
    finally:
        client.close()
    credentials = org.workdir / "access" / "credentials.yaml"
    text = credentials.read_text()
    credentials.write_text(text[: text.index("  shift-planner:")] + text[text.index("  legacy-export:") :])
    result = org.keyform("verify")
    assert result.exit_code == 1
    lines = findings(result)
    assert lines["credentials/bi-reporting"] == (
        "FAIL credentials/bi-reporting: wrong scopes: extra attribute:iban, employees:write "
        "(run keyform plan to see the drift)"
    )
    assert lines["users/tom.becker@acme.example"].startswith(
        "FAIL users/tom.becker@acme.example: refused with HTTP 401 unauthorized"
    )
    assert lines["credentials/shift-planner"] == (
        "FAIL credentials/shift-planner: no longer declared in the desired state but the secret still authenticates: "
        "revoke it and remove it from the sink"
    )
    assert lines["credentials/payroll-sync"].startswith("ok   ")
    assert "Verified 7 secret(s)" in result.stdout and "3 failed." in result.stdout
    only = org.keyform("verify", "credentials/payroll-sync")
    assert only.exit_code == 0 and list(findings(only)) == ["credentials/payroll-sync"]
    org.assert_no_secret_leaked()


def test_verify_reports_api_access_switched_off(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    organization = org.api().request("GET", "/v1/organization", what="organization").json()
    client = org.api()
    try:
        client.request(
            "PATCH", "/v1/organization", what="organization", json={"api_access": False}, if_match=organization["etag"]
        )
    finally:
        client.close()
    result = org.keyform("verify")
    assert result.exit_code == 1
    lines = findings(result)
    assert lines["users/hanna.schmidt@acme.example"] == (
        "FAIL users/hanna.schmidt@acme.example: refused with HTTP 403 api_access_disabled: "
        "API access is off for the organisation"
    )
    assert lines["credentials/legacy-export"].startswith("ok   ")  # disabled as declared: refused either way
    org.assert_no_secret_leaked()


def test_age_sink_without_identity_never_overwrites_and_verify_cannot_read_it(org):
    identity = x25519.Identity.generate()
    config = org.workdir / "keyform.yaml"
    config.write_text(
        config.read_text().replace(
            "  type: file\n  path: .keyform/secrets.json",
            f"  type: age\n  path: .keyform/secrets.json.age\n  recipients: [{identity.to_public()}]",
        )
    )
    applied = org.keyform("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    encrypted = org.workdir / ".keyform" / "secrets.json.age"
    assert stat.S_IMODE(os.stat(encrypted).st_mode) == 0o600
    import pyrage

    document = json.loads(pyrage.decrypt(encrypted.read_bytes(), [identity]))
    assert sorted(document) == ADDRESSES
    result = org.keyform("verify")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: can't read age secrets file {encrypted}: "
        "set secrets.identity_file to an age identity that can decrypt it\n"
    )
    again = org.keyform("apply", "--auto-approve")  # nothing new: the existing file doesn't block apply
    assert again.exit_code == 0, again.output
    rotated = org.keyform("rotate", "--auto-approve", "users/tom.becker@acme.example")
    assert rotated.exit_code == 0, rotated.output
    [sibling] = [p for p in encrypted.parent.iterdir() if p.name.startswith("secrets.json.20")]
    newer = json.loads(pyrage.decrypt(sibling.read_bytes(), [identity]))
    assert list(newer) == ["users/tom.becker@acme.example"]  # the first file was not overwritten
    assert json.loads(pyrage.decrypt(encrypted.read_bytes(), [identity])) == document
    values = [
        v
        for doc in (document, newer)
        for entry in doc.values()
        for k, v in entry.items()
        if k in ("api_key", "client_secret")
    ]
    for value in values:
        for text in org.outputs:
            assert value not in text


@pytest.mark.skipif(
    "identity_file" not in SCHEMA.read_text(), reason="the schema does not allow secrets.identity_file yet"
)
def test_age_sink_with_identity_file_verifies(org):
    identity = x25519.Identity.generate()
    keyfile = org.workdir / "age-identity.txt"
    keyfile.write_text(f"{identity}\n")
    keyfile.chmod(0o600)
    config = org.workdir / "keyform.yaml"
    config.write_text(
        config.read_text().replace(
            "  type: file\n  path: .keyform/secrets.json",
            f"  type: age\n  path: .keyform/secrets.json.age\n  recipients: [{identity.to_public()}]\n"
            "  identity_file: age-identity.txt",
        )
    )
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    result = org.keyform("verify")
    assert result.exit_code == 0, result.output
    assert sorted(findings(result)) == ADDRESSES


def test_a_deleted_credential_is_retired_in_the_sink_and_verify_reports_it_as_retired(org):
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    credentials = org.workdir / "access" / "credentials.yaml"
    text = credentials.read_text()
    credentials.write_text(text[: text.index("  shift-planner:")] + text[text.index("  legacy-export:") :])
    deleted = org.keyform("apply", "--auto-approve")
    assert deleted.exit_code == 0, deleted.output
    entry = org.secrets()["credentials/shift-planner"]
    assert sorted(entry) == ["client_id", "created_at", "retired_at", "secret_id", "type"]  # no secret left

    result = org.keyform("verify")

    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if "credentials/shift-planner" in line]
    assert line == (
        f"skip credentials/shift-planner: retired {entry['retired_at']}: apply deleted it, and its secret with it"
    )
    assert f"Verified 6 secret(s) from {org.secrets_file}: 6 ok, 0 failed; 1 retired (deleted, not checked)." in (
        result.stdout
    )
    org.assert_no_secret_leaked()
