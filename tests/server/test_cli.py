"""`keyform server` as a subprocess: one URL line, the token file, signals, user errors."""

from __future__ import annotations

import re
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

from .conftest import ApiSession

URL_LINE = re.compile(r"^keyform server listening on (http://127\.0\.0\.1:\d+)\n$")


def keyform(*args: str) -> list[str]:
    return [sys.executable, "-m", "keyform", "server", "--port", "0", *args]


def ready_url(proc: subprocess.Popen) -> str:
    readable, _, _ = select.select([proc.stdout], [], [], 30)
    assert readable, "the server printed nothing within 30 s"
    line = proc.stdout.readline()
    match = URL_LINE.match(line)
    assert match, f"unexpected first line {line!r}"
    return match.group(1)


def stop(proc: subprocess.Popen, sig: signal.Signals) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


def test_serve_init_stop_and_restart(tmp_path: Path) -> None:
    db, token_file = tmp_path / "kf.db", tmp_path / "owner.token"
    args = keyform("--db", str(db), "--init-owner", "owner@example.com", "--token-file", str(token_file))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        url = ready_url(proc)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        with ApiSession(url, token) as session:
            assert session.get("/v1/whoami").json()["principal"]["name"] == "owner@example.com"
        out, err = stop(proc, signal.SIGTERM)
    assert out == "" and token not in err
    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and token_file.read_text().strip() == token
    assert again.stderr.startswith("Error: ") and "already exists" in again.stderr
    other = tmp_path / "other.token"
    args[args.index(str(token_file))] = str(other)
    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already has an organisation" in again.stderr
    assert not other.exists()
    with subprocess.Popen(keyform("--db", str(db)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        url = ready_url(proc)
        with ApiSession(url, token) as session:
            assert session.get("/v1/whoami").status_code == 200
        stop(proc, signal.SIGINT)


def test_user_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "kf.db"
    cases = [
        (["--db", str(db), "--init-owner", "o@example.com"], "go together"),
        (["--db", str(db)], "has no organisation yet"),
        (["--db", str(db), "--init-owner", "bad", "--token-file", str(tmp_path / "t")], "not a valid email"),
    ]
    for args, text in cases:
        result = subprocess.run(keyform(*args), capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and text in result.stderr and result.stdout == ""
    assert not (tmp_path / "t").exists()
    token_file = tmp_path / "existing"
    token_file.write_text("keep me")
    args = ["--db", str(tmp_path / "new.db"), "--init-owner", "o@example.com", "--token-file", str(token_file)]
    result = subprocess.run(keyform(*args), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "already exists" in result.stderr
    assert token_file.read_text() == "keep me"
