"""Initialise a database and run the server in a background thread (waitress, HTTP/1.1 keep-alive)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from waitress.channel import HTTPChannel
from waitress.server import create_server

from keyform.server import org
from keyform.server.app import CredentialApp
from keyform.server.context import Stats
from keyform.server.errors import ApiError, ServerError
from keyform.server.org import create_organization
from keyform.server.storage import Transaction, describe, is_postgresql, open_storage
from keyform.server.tokens import now

THREADS = 8


def init_organization(db_path: str | Path, owner_email: str, *, org_name: str = "Acme") -> str:
    """Create the organisation and its Account Owner on an empty database; return the owner's key.

    The key exists only in the returned string (the database keeps its SHA-256 hash).
    Raises ServerError (a KeyformError) if the database already has an organisation.
    """
    name = describe(str(db_path))

    def create(tx: Transaction) -> str:
        if tx.organization() is not None:
            raise ServerError(
                f"database {name} already has an organisation; start without --init-owner to keep using it"
            )
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


class RunningServer:
    """A server running in a background thread; `stop()` closes every socket and the database."""

    def __init__(self, app: CredentialApp, host: str, port: int):
        self.app = app
        self.owner_token: str | None = None
        stats = app.stats

        class CountingChannel(HTTPChannel):
            def __init__(self, *args, **kwargs):
                stats.count_connection()
                super().__init__(*args, **kwargs)

        self._map: dict = {}
        try:
            self._server = create_server(app, map=self._map, host=host, port=port, threads=THREADS, ident="keyform")
        except OSError as error:
            app.close()
            raise ServerError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        self._server.channel_class = CountingChannel
        self.url = f"http://{host}:{self._server.effective_port}"
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


def start_server(
    db_path: str | Path, *, host: str = "127.0.0.1", port: int = 0, rate_limit: float | None = None
) -> RunningServer:
    """Serve an initialised database; the caller must `stop()` the result."""
    return RunningServer(CredentialApp(db_path, rate_limit=rate_limit, stats=Stats()), host, port)


@contextmanager
def running_server(
    db_path: str | Path,
    *,
    init_owner: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    rate_limit: float | None = None,
) -> Iterator[RunningServer]:
    """Run the server in this process (port 0 = a free port); stop it and free the port on exit.

    With `init_owner`, the database must be empty: it gets an organisation whose Account Owner's
    API key is `server.owner_token`.
    """
    token = init_organization(db_path, init_owner) if init_owner else None
    server = start_server(db_path, host=host, port=port, rate_limit=rate_limit)
    server.owner_token = token
    try:
        yield server
    finally:
        server.stop()
