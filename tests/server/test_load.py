"""`keyform server` under load, as a process whose supervisor may not read its stderr promptly."""

from __future__ import annotations

import fcntl
import http.client
import signal
import subprocess
import threading
from pathlib import Path

from .test_cli import keyform, ready_url

CLIENTS = 32  # four times the server's worker threads, so most requests wait in its queue
REQUESTS = 100  # each; enough queued requests to fill a small pipe with one warning each


def hammer(url: str, token: str, failures: list[str]) -> None:
    """REQUESTS keep-alive requests on one connection; a request unanswered within 30 s is a failure."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for _ in range(REQUESTS):
            conn.request("GET", "/v1/whoami", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"status {response.status}")
    except (OSError, http.client.HTTPException) as error:
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        conn.close()


def test_a_busy_server_answers_while_nobody_reads_its_stderr(tmp_path: Path) -> None:
    """Waitress warns for each request that waits for a worker thread; those lines must not fill the pipe.

    A full stderr pipe blocks the thread that logs while it holds waitress's task-queue lock, and
    then no request is answered at all. The pipe is shrunk to one page, so a flood fills it soon.
    """
    db, token_file = tmp_path / "kf.db", tmp_path / "owner.token"
    args = keyform("--db", str(db), "--init-owner", "owner@example.com", "--token-file", str(token_file))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        fcntl.fcntl(proc.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        url = ready_url(proc)
        token = token_file.read_text().strip()
        failures: list[str] = []
        threads = [threading.Thread(target=hammer, args=(url, token, failures)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert failures == []
    assert proc.returncode == 0, err
    warnings = [line for line in err.splitlines() if "Task queue depth" in line]
    assert len(warnings) <= 1, err[:2000]
    assert all(line.startswith("keyform: WARNING: Task queue depth is") for line in warnings), warnings
    assert all("requests are waiting for one of the 8 worker threads" in line for line in warnings)
