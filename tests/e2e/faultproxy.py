"""A loopback HTTP/1.1 proxy in front of the real `keyform server` that injects faults on a schedule.

Faults: `status-NNN` (any status; 429 with Retry-After), `latency` (slower than the client's
timeout), `reset` (connection reset before the request reaches the server), `drop-after-commit`
(the server handles the request, then the client's connection is reset before it sees the answer),
`truncate` (the server handles the request; the client gets the headers and half the body, then
the connection closes) and `die` (the proxy stops listening and resets every connection: from
then on the API is gone, connections are refused).
"""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}

Decide = Callable[[str, str], str | None]  # (method, path) -> fault name or None


class FaultProxy:
    """Start with `with FaultProxy(upstream_url, decide) as proxy:`; `proxy.url` is where clients go."""

    def __init__(self, upstream: str, decide: Decide, *, latency: float = 0.6):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.decide = decide
        self.latency = latency
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve_connection(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._dead = threading.Event()
        self._stopper: threading.Thread | None = None

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._die()
        if self._stopper is not None:
            self._stopper.join()
        self._thread.join()

    def _die(self) -> None:
        with self._lock:
            if self._stopper is None:
                self._dead.set()
                self._stopper = threading.Thread(target=self._stop_listening, daemon=True)
                self._stopper.start()

    def _stop_listening(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _count(self, fault: str) -> None:
        with self._lock:
            self.injected[fault] += 1

    def _serve_connection(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                fault = "reset" if self._dead.is_set() else self.decide(method, path)
                if fault:
                    self._count(fault)
                if fault == "die":
                    self._die()
                    self._stopper.join()  # type: ignore[union-attr]
                    _reset(client)
                    return
                if fault == "reset":
                    _reset(client)
                    return
                if fault and fault.startswith("status-"):
                    status = int(fault[-3:])
                    extra = {"Retry-After": "1"} if status == 429 else {}
                    _write(client, status, {"code": "injected", "message": f"injected {status}"}, extra)
                    continue
                if fault == "latency":
                    time.sleep(self.latency)
                upstream.request(method, path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if fault == "drop-after-commit":
                    _reset(client)
                    return
                if fault == "truncate":
                    _write_truncated(client, response.status, response.reason, response.getheaders(), data)
                    return
                _write_raw(client, response.status, response.reason, response.getheaders(), data)
        except (ConnectionError, OSError):
            return
        finally:
            upstream.close()
            reader.close()


def _read_request(reader) -> tuple[str, str, dict[str, str], bytes] | None:
    line = reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip()] = value.strip()
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
    body = reader.read(length) if length else b""
    forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    return method, path, forwarded, body


def _write(client: socket.socket, status: int, body: dict, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    _write_raw(client, status, "Injected", [("Content-Type", "application/json"), *headers.items()], data)


def _write_raw(client: socket.socket, status: int, reason: str, headers, data: bytes) -> None:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
    lines += [f"Content-Length: {len(data)}", "Connection: keep-alive", "", ""]
    client.sendall("\r\n".join(lines).encode("latin-1") + data)


def _write_truncated(client: socket.socket, status: int, reason: str, headers, data: bytes) -> None:
    """The answer's headers (with its full Content-Length) and half its body, then close."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP]
    lines += [f"Content-Length: {len(data)}", "Connection: keep-alive", "", ""]
    client.sendall("\r\n".join(lines).encode("latin-1") + data[: len(data) // 2])
    client.shutdown(socket.SHUT_RDWR)
    client.close()


def _reset(client: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a broken network would."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
