"""`keyform server` as a subprocess: one URL line, the token file, signals, user errors."""

from __future__ import annotations

import re
import select
import signal
import socket
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


def test_busy_port_fails_before_creating_anything(tmp_path: Path) -> None:
    db, token_file = tmp_path / "kf.db", tmp_path / "owner.token"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = keyform("--db", str(db), "--port", str(port), "--init-owner", "o@example.com")
        result = subprocess.run([*args, "--token-file", str(token_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert sorted(tmp_path.iterdir()) == []
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ") and result.stderr.count("\n") == 1
    assert "choose another --port" in result.stderr


def test_database_files_are_private(tmp_path: Path) -> None:
    db, token_file = tmp_path / "kf.db", tmp_path / "owner.token"
    args = keyform("--db", str(db), "--init-owner", "owner@example.com", "--token-file", str(token_file))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, umask=0o022) as proc:
        url = ready_url(proc)
        with ApiSession(url, token_file.read_text().strip()) as session:
            assert session.post("/v1/roles", json={"name": "private"}).status_code == 201
        files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.glob("kf.db*")}
        stop(proc, signal.SIGTERM)
    assert set(files) == {"kf.db", "kf.db-wal", "kf.db-shm"}
    assert files == dict.fromkeys(files, 0o600)


def test_token_file_inside_a_git_work_tree_is_warned_about(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "deploy").mkdir()
    token_file = repo / "deploy" / "owner.token"
    args = keyform("--db", str(tmp_path / "kf.db"), "--init-owner", "o@example.com", "--token-file", str(token_file))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        ready_url(proc)
        token = token_file.read_text().strip()
        _, err = stop(proc, signal.SIGTERM)
    assert err.count("\n") == 1 and token not in err
    assert err.startswith(f"Warning: token file {token_file} is inside the git work tree {repo};")
    assert "keep it outside the repository or add it to .gitignore" in err
    outside = tmp_path / "outside.token"
    args[args.index(str(token_file))] = str(outside)
    args[args.index(str(tmp_path / "kf.db"))] = str(tmp_path / "other.db")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        ready_url(proc)
        _, err = stop(proc, signal.SIGTERM)
    assert err == ""


def half_open(url: str) -> socket.socket:
    """A connection that sends part of a request's headers and then nothing."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=60)
    conn.sendall(b"GET /v1/health HTTP/1.1\r\nHost: keyform\r\n")
    return conn


def test_idle_and_half_open_connections_do_not_lock_clients_out(tmp_path: Path) -> None:
    token_file = tmp_path / "owner.token"
    args = keyform("--db", str(tmp_path / "kf.db"), "--init-owner", "o@example.com", "--token-file", str(token_file))
    args += ["--channel-timeout", "2", "--connection-limit", "8"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        url = ready_url(proc)
        stalled = [half_open(url) for _ in range(12)]  # more than the limit: the rest wait in the backlog
        try:
            with ApiSession(url, token_file.read_text().strip()) as session:
                assert session.get("/v1/whoami", timeout=60).status_code == 200
            for conn in stalled:  # each is closed by the server (EOF) within the bounded wait
                assert conn.recv(1024) == b""
        finally:
            for conn in stalled:
                conn.close()
        stop(proc, signal.SIGTERM)
