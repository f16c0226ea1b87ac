"""`keyform server --recover-owner EMAIL --token-file F`: the way back in when no owner's key works.

It runs on the database file (local access is the authority), here next to a running server."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from keyform.server import RunningServer

from .conftest import Api


def recover(db: str | Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "keyform", "server", "--db", str(db), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def lock_out(api: Api) -> None:
    """api_access off, then the only owner's key file is lost: nobody can switch it back on over HTTP."""
    api.set_api_access(False)
    api.owner.close()  # the test never uses the owner's key again


def test_recover_owner_gives_a_working_owner_key(api: Api, server: RunningServer, db: str, tmp_path: Path):
    user, old_key = api.user()
    api.owner.patch(f"/v1/users/{user['id']}", json={"archived": True})
    lock_out(api)
    token_file = tmp_path / "rescue.token"
    result = recover(db, "--recover-owner", user["email"].upper(), "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    line = f"{user['email'].upper()} is an active Account Owner with a new API key in {token_file}; api_access is on"
    assert result.stdout == line + "\n"
    assert result.stderr == ""
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    key = token_file.read_text().strip()
    assert key.startswith("kfk_") and key not in result.stdout
    rescued = api.session(key)
    me = rescued.get("/v1/whoami").json()
    assert (me["principal"]["id"], me["role"]) == (user["id"], "account_owner")
    assert rescued.get("/v1/organization").json()["api_access"] is True
    assert rescued.get(f"/v1/users/{user['id']}").json()["archived"] is False
    assert api.session(old_key).get("/v1/whoami").status_code == 401  # the key it had was replaced
    entry = rescued.get("/v1/audit", params={"limit": 1000}).json()["items"][-1]
    assert entry["actor"] == {"type": "local", "id": "recover-owner", "name": "keyform server --recover-owner"}
    assert (entry["action"], entry["target"]["id"]) == ("user.recover_owner", user["id"])
    assert entry["changes"]["role"] == ["standard", "account_owner"]
    assert entry["changes"]["organization.api_access"] == [False, True]
    assert key not in rescued.get("/v1/audit").text


def test_recover_owner_can_create_the_owner(api: Api, db: str, tmp_path: Path) -> None:
    lock_out(api)
    token_file = tmp_path / "new-owner.token"
    result = recover(db, "--recover-owner", "rescue@example.com", "--token-file", str(token_file))
    assert result.returncode == 0, result.stderr
    me = api.session(token_file.read_text().strip()).get("/v1/whoami").json()
    assert (me["principal"]["name"], me["role"]) == ("rescue@example.com", "account_owner")
    assert me["cognitive_access"] is True  # like the owner --init-owner creates


def test_recover_owner_user_errors(api: Api, db: str, tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    cases = [
        (["--recover-owner", "o@example.com"], "--recover-owner EMAIL needs --token-file FILE"),
        (["--recover-owner", "bad", "--token-file", str(token_file)], "--recover-owner: "),
        (["--recover-owner", "o@example.com", "--init-owner", "o@example.com", "--token-file", str(token_file)],
         "exclude each other"),
    ]  # fmt: skip
    for args, text in cases:
        result = recover(db, *args)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and text in result.stderr
        assert not token_file.exists()
    missing = recover(tmp_path / "none.db", "--recover-owner", "o@example.com", "--token-file", str(token_file))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert not token_file.exists() and not (tmp_path / "none.db").exists()
    assert api.owner.get("/v1/users", params={"email": "o@example.com"}).json()["items"] == []
