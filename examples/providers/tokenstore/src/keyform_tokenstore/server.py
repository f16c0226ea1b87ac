"""A tiny in-memory token store, for the provider's tests: teams and scoped tokens over JSON/HTTP.

    TOKENSTORE_ADMIN_TOKEN=... python -m keyform_tokenstore.server [--port 0]

prints `listening on http://127.0.0.1:PORT` and serves until killed. Every endpoint but
`GET /whoami` needs `Authorization: Bearer <admin token>`. Lists page with `limit` and `cursor`
(`next_cursor` in the answer); writes to an existing resource need `If-Match: <etag>` (412 if it
moved). A token's secret is set by the client (`secret`, `secret_id`); only its hash is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROUTE = re.compile(r"^/(teams|tokens)(?:/([^/]+)(/secret)?)?$")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Store:
    """Teams and tokens by name; one lock, so every request sees a consistent state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, dict[str, Any]]] = {"teams": {}, "tokens": {}}
        self.hashes: dict[str, str] = {}  # token name -> sha256 of its secret
        self.etags = itertools.count(1)

    def page(self, kind: str, limit: int, cursor: str) -> dict[str, Any]:
        names = sorted(name for name in self.items[kind] if name > cursor)
        shown = names[:limit]
        more = len(names) > limit
        return {"items": [self.items[kind][n] for n in shown], "next_cursor": shown[-1] if more else None}

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name", ""))
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise ApiError(422, f"invalid name {name!r}")
        if name in self.items[kind]:
            raise ApiError(409, f"{kind}/{name} exists")
        item: dict[str, Any] = {"name": name, "managed_by": body.get("managed_by")}
        if kind == "teams":
            item["description"] = str(body.get("description", ""))
        else:
            if body.get("team") not in self.items["teams"]:
                raise ApiError(422, f"unknown team {body.get('team')!r}")
            item.update(team=body["team"], scopes=sorted(set(body.get("scopes", []))))
            self._set_secret(item, body)
        item["etag"] = self._etag()
        self.items[kind][name] = item
        return item

    def update(self, kind: str, name: str, body: dict[str, Any], etag: str | None) -> dict[str, Any]:
        item = self._current(kind, name, etag)
        if "team" in body and body["team"] != item.get("team"):
            raise ApiError(422, "a token's team can't change: delete and create it")
        allowed = ("description", "managed_by") if kind == "teams" else ("scopes", "managed_by")
        item.update({key: value for key, value in body.items() if key in allowed})
        if "scopes" in item:
            item["scopes"] = sorted(set(item["scopes"]))
        item["etag"] = self._etag()
        return item

    def set_secret(self, name: str, body: dict[str, Any], etag: str | None) -> dict[str, Any]:
        item = self._current("tokens", name, etag)
        self._set_secret(item, body)
        item["etag"] = self._etag()
        return item

    def delete(self, kind: str, name: str, etag: str | None) -> None:
        self._current(kind, name, etag)
        if kind == "teams" and any(t["team"] == name for t in self.items["tokens"].values()):
            raise ApiError(409, f"team {name} still has tokens")
        del self.items[kind][name]
        if kind == "tokens":
            del self.hashes[name]

    def whoami(self, secret: str) -> dict[str, Any]:
        digest = _hash(secret)
        for name, stored in self.hashes.items():
            if hmac.compare_digest(stored, digest):
                return {"token": name, "scopes": self.items["tokens"][name]["scopes"]}
        raise ApiError(401, "unknown token")

    def _current(self, kind: str, name: str, etag: str | None) -> dict[str, Any]:
        item = self.items[kind].get(name)
        if item is None:
            raise ApiError(404, f"{kind}/{name} not found")
        if etag is None or etag != item["etag"]:
            raise ApiError(412, f"{kind}/{name} changed (If-Match does not match)")
        return item

    def _set_secret(self, item: dict[str, Any], body: dict[str, Any]) -> None:
        secret, secret_id = body.get("secret"), body.get("secret_id")
        if not isinstance(secret, str) or len(secret) < 20 or not isinstance(secret_id, str):
            raise ApiError(422, "a token needs secret (20+ characters) and secret_id")
        self.hashes[item["name"]] = _hash(secret)
        created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        item["secret"] = {"id": secret_id, "created_at": created}

    def _etag(self) -> str:
        return f'"{next(self.etags)}"'


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_handler(store: Store, admin_token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as they are written, not 40 ms later

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            try:
                status, body = self._route(method)
            except ApiError as error:
                status, body = error.status, {"message": str(error)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> tuple[int, Any]:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if url.path == "/whoami" and method == "GET":
                with store.lock:
                    return 200, store.whoami(bearer)
            if not hmac.compare_digest(bearer.encode(), admin_token.encode()):
                raise ApiError(401, "admin token required")
            match = ROUTE.match(url.path)
            if match is None:
                raise ApiError(404, f"no route {url.path}")
            kind, name, secret = match.groups()
            etag = self.headers.get("If-Match")
            with store.lock:
                if method == "GET" and name is None:
                    query = parse_qs(url.query)
                    return 200, store.page(kind, int(query.get("limit", ["100"])[0]), query.get("cursor", [""])[0])
                if method == "POST" and name is None:
                    return 201, store.create(kind, body)
                if method == "PATCH" and name and not secret:
                    return 200, store.update(kind, name, body, etag)
                if method == "PUT" and name and secret and kind == "tokens":
                    return 200, store.set_secret(name, body, etag)
                if method == "DELETE" and name and not secret:
                    store.delete(kind, name, etag)
                    return 200, {}
            raise ApiError(405, f"{method} {url.path} is not allowed")

    return Handler


@contextmanager
def running_server(admin_token: str, port: int = 0) -> Iterator[str]:
    """Serve a fresh store on a loopback port (0: a free one) in a thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Store(), admin_token))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="tokenstore", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    port = parser.parse_args().port
    admin = os.environ.get("TOKENSTORE_ADMIN_TOKEN")
    if not admin:
        sys.exit("set TOKENSTORE_ADMIN_TOKEN to the admin token clients must send")
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Store(), admin))
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
