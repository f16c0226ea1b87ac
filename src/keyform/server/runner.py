"""Initialise a database and run the server in a background thread (waitress, HTTP/1.1 keep-alive)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from waitress.utilities import Error

from keyform.server import org
from keyform.server.app import CredentialApp
from keyform.server.context import Stats
from keyform.server.errors import ApiError, ServerError
from keyform.server.org import create_organization
from keyform.server.storage import Transaction, describe, is_postgresql, open_storage
from keyform.server.tokens import now

THREADS = 8
CHANNEL_TIMEOUT = 30  # seconds a connection may sit idle or half-sent before it is closed
CONNECTION_LIMIT = 100  # open connections; beyond it new ones wait in the listen backlog
QUEUE_WARNING_SECONDS = 60.0  # at most one "requests are queued" warning this often


class QueueWarningThrottle(logging.Filter):
    """Lets through one of waitress's "Task queue depth is N" warnings per interval, with a count.

    Waitress warns for every request that has to wait for a worker thread: at capacity that is most
    requests, hundreds of lines a second. Besides drowning the log, the flood stalls the server when
    its stderr is a pipe read slowly or not at all (a supervisor, a benchmark): once the pipe is full
    the thread that logs blocks, and waitress logs this warning while it holds its task-queue lock,
    so every worker and the accepting loop block behind it and no request is answered.
    """

    def __init__(self, interval: float = QUEUE_WARNING_SECONDS):
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._dropped += 1
                return False
            self._next = now + self.interval
            dropped, self._dropped = self._dropped, 0
        record.msg = (
            f"{record.getMessage()}: requests are waiting for one of the {THREADS} worker threads "
            f"(the server is at capacity; at most one such warning per {self.interval:g} s, "
            f"{dropped} left out since the previous one)"
        )
        record.args = ()
        return True


QUEUE_WARNINGS = QueueWarningThrottle()


class OrganizationExistsError(ServerError):
    """init_organization on a database that already has one (the caller says what to do instead)."""


def init_organization(db_path: str | Path, owner_email: str, *, org_name: str = "Acme") -> str:
    """Create the organisation and its Account Owner on an empty database; return the owner's key.

    The key exists only in the returned string (the database keeps its SHA-256 hash).
    Raises ServerError (a KeyformError) if the database already has an organisation.
    """
    name = describe(str(db_path))

    def create(tx: Transaction) -> str:
        if tx.organization() is not None:
            raise OrganizationExistsError(f"database {name} already has an organisation")
        try:
            return create_organization(tx, org_name, owner_email, now())
        except ApiError as error:  # the email check
            raise ServerError(f"owner email: {error.message}") from None

    storage = open_storage(db_path)
    try:
        return storage.run(create, write=True)
    finally:
        storage.close()


def recover_owner(db_path: str | Path, email: str) -> str:
    """Make `email` an active Account Owner with a fresh API key and switch api_access on; return the key.

    Local access to the database (its file, or its PostgreSQL URL and password) is the authority
    here: it never runs over HTTP.
    """
    name = describe(str(db_path))
    if not is_postgresql(str(db_path)) and not Path(db_path).is_file():
        raise ServerError(f"database {name} does not exist; give the --db file the server runs on")

    def recover(tx: Transaction) -> str:
        if tx.organization() is None:
            raise ServerError(f"database {name} has no organisation; start with --init-owner instead")
        try:
            return org.recover_owner(tx, email, now())
        except ApiError as error:  # the email check
            raise ServerError(f"--recover-owner: {error.message}") from None

    storage = open_storage(db_path)
    try:
        return storage.run(recover, write=True)
    finally:
        storage.close()


class JsonErrorTask(ErrorTask):
    """Waitress's own refusals (malformed request line, bad Content-Length...) as `{code, message}` JSON."""

    CODES = {400: "bad_request", 413: "payload_too_large", 431: "headers_too_large", 501: "not_implemented"}

    def execute(self) -> None:
        # types-waitress types Task.request as the Error; waitress passes its request parser (its own
        # ErrorTask.execute reads `self.request.error` too)
        error: Error = self.request.error  # type: ignore[attr-defined]
        detail = str(error.body)
        if detail.startswith("Malformed header line"):  # the line may hold a credential: never echo it
            detail = "Malformed header line"
        code = self.CODES.get(error.code, "internal_error")
        message = f"{error.reason}: {detail}; send a well-formed HTTP/1.1 request"
        body = json.dumps({"code": code, "message": message}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        # types-waitress says Sequence; waitress makes it a list and appends to it in its own ErrorTask
        self.response_headers.append(("Content-Type", "application/json"))  # type: ignore[attr-defined]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class Listener:
    """A bound, listening socket that serves nothing until `RunningServer` takes it.

    Binding comes first so that a busy port fails before any database or token file is touched;
    connections that arrive meanwhile wait in the listen backlog.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        channel_timeout: int = CHANNEL_TIMEOUT,
        connection_limit: int = CONNECTION_LIMIT,
    ):
        self.app: CredentialApp | None = None
        logging.getLogger("waitress.queue").addFilter(QUEUE_WARNINGS)  # once: the filter is one object
        self.map: dict[int, Any] = {}  # fileno -> waitress dispatcher (listener, channels, trigger)
        try:
            server = create_server(
                self._application,
                map=self.map,
                host=host,
                port=port,
                threads=THREADS,
                ident="keyform",
                channel_timeout=channel_timeout,
                connection_limit=connection_limit,
                cleanup_interval=max(1, min(30, channel_timeout // 2)),
            )
        except OSError as error:
            raise ServerError(
                f"cannot listen on {host}:{port}: {error.strerror}; stop what uses the port or choose another --port"
            ) from None
        if not isinstance(server, BaseWSGIServer):  # a name with several addresses (IPv4 and IPv6) binds each
            server.close()
            raise ServerError(f"--host {host} has several addresses; give one of them, e.g. 127.0.0.1")
        self.server = server
        # types-waitress leaves out effective_port, which BaseWSGIServer.__init__ sets from the bound socket
        port_bound: int = server.effective_port  # type: ignore[attr-defined]
        self.url = f"http://{host}:{port_bound}"

    def _application(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self.app is not None, "requests are read only once RunningServer has set the app"
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.close()


class RunningServer:
    """A server running in a background thread; `stop()` closes every socket and the database."""

    def __init__(self, app: CredentialApp, listener: Listener):
        self.app = app
        self.owner_token: str | None = None
        stats = app.stats

        class CountingChannel(HTTPChannel):
            error_task_class = JsonErrorTask

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                stats.count_connection()
                super().__init__(*args, **kwargs)

        listener.app = app
        self._map = listener.map
        self._server = listener.server
        self._server.channel_class = CountingChannel
        self.url = listener.url
        self._stopping = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="keyform-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        loop = self._server.asyncore.loop
        while not self._stopping.is_set():
            loop(timeout=1.0, map=self._map, count=1)

    def stop(self) -> None:
        """Stop accepting, finish or cancel running requests, close sockets and the database."""
        if self._stopped:
            return
        self._stopped = True
        self._server.accepting = False  # the loop keeps flushing responses of running requests
        self._server.task_dispatcher.shutdown(timeout=10)
        self._stopping.set()
        self._server.pull_trigger()
        self._thread.join()
        for channel in list(self._map.values()):
            if isinstance(channel, HTTPChannel):
                channel.handle_close()
        self._server.close()
        self.app.close()


def serve(listener: Listener, db_path: str | Path, *, rate_limit: float | None = None) -> RunningServer:
    """Serve an initialised database on a bound listener (closed if the database can't be opened)."""
    try:
        app = CredentialApp(db_path, rate_limit=rate_limit, stats=Stats())
    except BaseException:
        listener.close()
        raise
    return RunningServer(app, listener)


def start_server(
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    rate_limit: float | None = None,
    channel_timeout: int = CHANNEL_TIMEOUT,
    connection_limit: int = CONNECTION_LIMIT,
) -> RunningServer:
    """Serve an initialised database; the caller must `stop()` the result."""
    listener = Listener(host, port, channel_timeout=channel_timeout, connection_limit=connection_limit)
    return serve(listener, db_path, rate_limit=rate_limit)


@contextmanager
def running_server(
    db_path: str | Path,
    *,
    init_owner: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    rate_limit: float | None = None,
    channel_timeout: int = CHANNEL_TIMEOUT,
    connection_limit: int = CONNECTION_LIMIT,
) -> Iterator[RunningServer]:
    """Run the server in this process (port 0 = a free port); stop it and free the port on exit.

    With `init_owner`, the database must be empty: it gets an organisation whose Account Owner's
    API key is `server.owner_token`. The port is bound before the database is touched.
    """
    listener = Listener(host, port, channel_timeout=channel_timeout, connection_limit=connection_limit)
    try:
        token = init_organization(db_path, init_owner) if init_owner else None
    except BaseException:
        listener.close()
        raise
    server = serve(listener, db_path, rate_limit=rate_limit)
    server.owner_token = token
    try:
        yield server
    finally:
        server.stop()
