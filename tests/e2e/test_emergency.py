"""A sink that fails after the API created a secret: the secret lands in an emergency file, apply stops."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

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


PRINTS_PART_OF_THE_SECRET = """
import json, sys
entry = json.load(sys.stdin)
secret = entry.get("api_key") or entry["client_secret"]
print("stored", secret[4:44])
print("vault refused", secret[6:46], file=sys.stderr)
sys.exit(3)
"""


def test_a_sink_command_that_prints_part_of_a_secret_leaks_none_of_it(org):
    (org.workdir / "store.py").write_text(PRINTS_PART_OF_THE_SECRET)
    config = org.workdir / "keyform.yaml"
    file_sink = "  type: file\n  path: .keyform/secrets.json"
    config.write_text(
        config.read_text().replace(file_sink, f"  type: command\n  command: [{sys.executable}, store.py]")
    )
    result = org.keyform("apply", "--auto-approve")
    assert result.exit_code == 1
    [emergency] = list((org.workdir / ".keyform").glob("keyform-emergency-secrets-*.json"))
    saved = json.loads(emergency.read_text())
    assert saved
    for entry in saved.values():
        secret = entry.get("api_key") or entry["client_secret"]
        pieces = {secret[start : start + 8] for start in range(len(secret) - 8)}
        for output in org.outputs:
            assert not [piece for piece in pieces if piece in output]
    assert "secrets.command" in result.stdout and "bytes of output, not shown" in result.stdout
