"""A sink that fails after the API created a secret: the secret lands in an emergency file, apply stops."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import requests


def git(workdir, *args: str) -> str:
    return subprocess.run(["git", "-C", str(workdir), *args], capture_output=True, text=True, check=True).stdout


def untracked_files(workdir) -> list[str]:
    """What `git add -A` would pick up: every file git does not ignore."""
    return git(workdir, "ls-files", "--others", "--exclude-standard").splitlines()


def test_failed_delivery_saves_the_secret_to_an_emergency_file_and_stops(org):
    config = org.workdir / "keyform.yaml"
    file_sink = "  type: file\n  path: .keyform/secrets.json"
    failing = "  type: command\n  command: [sh, -c, 'cat > /dev/null; echo vault is sealed >&2; exit 3']"
    text = config.read_text().replace(file_sink, failing)
    assert "type: command" in text
    config.write_text(text)
    git(org.workdir, "init", "-q")
    result = org.keyform("apply", "--auto-approve")
    assert result.exit_code == 1
    [emergency] = list((org.workdir / ".keyform").glob("keyform-emergency-secrets-*.json"))
    assert list(org.workdir.glob("keyform-emergency-*")) == []  # not beside keyform.yaml any more
    assert stat.S_IMODE(os.stat(emergency).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(emergency.parent).st_mode) == 0o700
    assert [name for name in untracked_files(org.workdir) if ".keyform" in name] == []  # git add -A skips it
    assert f"New secrets that could not reach the sink are in {emergency} (mode 0600)." in result.stdout
    assert "not started: a new secret could not be delivered" in result.stdout
    saved = json.loads(emergency.read_text())
    assert 1 <= len(saved) < 7  # the changes in flight finished; nothing new started after the failure
    for address, entry in saved.items():  # each saved secret is the live one
        if entry["type"] == "api_key":
            headers = {"Authorization": f"Bearer {entry['api_key']}"}
            check = requests.get(f"{org.url}/v1/whoami", headers=headers, timeout=10)
        else:
            body = {
                "grant_type": "client_credentials",
                "client_id": entry["client_id"],
                "client_secret": entry["client_secret"],
            }
            check = requests.post(f"{org.url}/v1/oauth/token", json=body, timeout=10)
        assert check.status_code == 200 or address == "credentials/legacy-export", address  # that one is disabled
        secret = entry.get("api_key") or entry["client_secret"]
        assert all(secret not in output for output in org.outputs)
