"""The SQLite store survives a SIGKILL of the server mid-write: no corruption, every acknowledged write present."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(db, port, *extra):
    process = subprocess.Popen(
        [sys.executable, "-m", "keyform", "server", "--db", str(db), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()  # blocks until the server says it is listening
    assert line.startswith("keyform server listening on http://127.0.0.1:"), line + process.stderr.read()
    return process


def test_committed_writes_survive_sigkill_mid_write(tmp_path):
    db, token_file, port = tmp_path / "db.sqlite", tmp_path / "owner.key", free_port()
    server = start(db, port, "--init-owner", "owner@x.example", "--token-file", str(token_file))
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token_file.read_text().strip()}"}
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with requests.Session() as session:
            for i in range(10_000):
                if stop.is_set():
                    return
                name = f"w{n}-{i}"
                try:
                    response = session.post(f"{url}/v1/credentials", json={"name": name}, headers=headers, timeout=5)
                except requests.exceptions.RequestException:
                    return  # the server died under us
                if response.status_code == 201:
                    acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.send_signal(signal.SIGKILL)  # mid-write: four writers are still sending
    server.wait()
    stop.set()
    for thread in threads:
        thread.join()
    server.stdout.close()
    server.stderr.close()
    assert len(acknowledged) >= 150

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    restarted = start(db, port)
    try:
        names: set[str] = set()
        cursor = None
        with requests.Session() as session:
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = session.get(f"{url}/v1/credentials", params=params, headers=headers, timeout=10).json()
                names |= {item["name"] for item in page["items"]}
                if not (cursor := page["next_cursor"]):
                    break
        assert set(acknowledged) <= names
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
        restarted.stdout.close()
        restarted.stderr.close()
    assert os.stat(db).st_size > 0
