"""`keyform server`: run the credential service on a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click


def _open_token_file(path: Path) -> int:
    from keyform.server.errors import ServerError

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ServerError(f"token file {path} already exists; choose a new path") from None
    except OSError as error:
        raise ServerError(f"cannot create token file {path}: {error.strerror}") from None
    os.fchmod(fd, 0o600)
    return fd


def _recover(db: str, email: str, token_file: Path | None) -> None:
    """--recover-owner: write a fresh owner key to the token file, say so in one line, don't serve."""
    from keyform.server.errors import ServerError
    from keyform.server.runner import recover_owner

    if token_file is None:
        raise ServerError("--recover-owner EMAIL needs --token-file FILE (a new file receiving the new API key)")
    fd = _open_token_file(token_file)
    try:
        token = recover_owner(db, email)
    except BaseException:
        os.close(fd)
        token_file.unlink()
        raise
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    click.echo(f"{email} is an active Account Owner with a new API key in {token_file}; api_access is on")


@click.command()
@click.option(
    "--db",
    "db",
    required=True,
    envvar="KEYFORM_DATABASE_URL",
    show_envvar=True,
    metavar="FILE|URL",
    help="SQLite database file, or postgresql://USER@HOST[:PORT]/DB for replicas (pip install "
    "'keyform[server-postgresql]'). Keep the password out of the URL: libpq reads PGPASSWORD or ~/.pgpass.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8750, show_default=True, type=click.IntRange(0, 65535), help="Port (0 = any free port)."
)
@click.option(
    "--init-owner",
    "init_owner",
    metavar="EMAIL",
    help="Create the organisation and its Account Owner (empty database only).",
)
@click.option(
    "--token-file",
    "token_file",
    type=click.Path(path_type=Path),
    help="New file (mode 0600) receiving the owner's API key; needs --init-owner or --recover-owner.",
)
@click.option(
    "--recover-owner",
    "recover_owner",
    metavar="EMAIL",
    help="Make EMAIL an active Account Owner with a new key in --token-file, switch api_access on, and exit "
    "(run on the database file when no owner's key works).",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second allowed overall (429 beyond).",
)
def server(
    db: str,
    host: str,
    port: int,
    init_owner: str | None,
    token_file: Path | None,
    rate_limit: float | None,
    recover_owner: str | None,
) -> None:
    """Run the credential API until SIGINT or SIGTERM.

    --init-owner on a database that already has an organisation is an error (nothing changes,
    no token is written). Starting again without it keeps all data. --recover-owner EMAIL (with
    --token-file) works on the database only: it gives EMAIL a working Account Owner key and exits.

    \b
    Production layout (several replicas, one PostgreSQL):
      KEYFORM_DATABASE_URL=postgresql://keyform@db.internal/keyform  (password in PGPASSWORD or ~/.pgpass)
      keyform server --host 10.0.0.5 --port 8750   on each of N machines or containers
      any HTTP load balancer in front of the N replicas, terminating TLS
      PostgreSQL with its own backups; replicas migrate its schema at start-up, once
    A SQLite file serves one process only. --rate-limit counts per replica.
    """
    from keyform.server.errors import ServerError
    from keyform.server.runner import init_organization, start_server

    if recover_owner:
        if init_owner:
            raise ServerError("--init-owner and --recover-owner exclude each other; give one of them")
        _recover(db, recover_owner, token_file)
        return
    if bool(init_owner) != bool(token_file):
        raise ServerError("--init-owner EMAIL and --token-file FILE go together; give both or neither")
    if init_owner and token_file:
        fd = _open_token_file(token_file)
        try:
            token = init_organization(db, init_owner)
        except BaseException:
            os.close(fd)
            token_file.unlink()
            raise
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        running = start_server(db, host=host, port=port, rate_limit=rate_limit)
        try:
            click.echo(f"keyform server listening on {running.url}")
            while not stop.wait(3600):
                pass
        finally:
            running.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


COMMANDS = [server]
