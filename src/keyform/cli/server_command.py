"""`keyform server`: run the credential service on a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
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


def _write_owner_token(token_file: Path, create: Callable[[], str]) -> None:
    """Create the token file (new, 0600), run `create` and write the key it returns into it."""
    fd = _open_token_file(token_file)
    try:
        token = create()
    except BaseException:
        os.close(fd)
        token_file.unlink()
        raise
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")


def _recover(db: str, email: str, token_file: Path | None) -> None:
    """--recover-owner: write a fresh owner key to the token file, say so in one line, don't serve."""
    from keyform.server.errors import ServerError
    from keyform.server.runner import recover_owner

    if token_file is None:
        raise ServerError("--recover-owner EMAIL needs --token-file FILE (a new file receiving the new API key)")
    _warn_if_in_git_work_tree(token_file)
    _write_owner_token(token_file, lambda: recover_owner(db, email))
    click.echo(f"{email} is an active Account Owner with a new API key in {token_file}; api_access is on")


def _init_organization(db: str, owner: str) -> str:
    from keyform.server.errors import ServerError
    from keyform.server.runner import OrganizationExistsError, init_organization

    try:
        return init_organization(db, owner)
    except OrganizationExistsError as error:
        raise ServerError(f"{error}; start without --init-owner to keep using it") from None


def _warn_if_in_git_work_tree(path: Path) -> None:
    """One line on stderr when `path` would sit inside a git work tree (a commit away from a leak)."""
    folder = path.absolute().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            click.echo(
                f"Warning: token file {path} is inside the git work tree {candidate}; "
                "keep it outside the repository or add it to .gitignore",
                err=True,
            )
            return


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
    help="Requests per second allowed per API key or access token, and for all unauthenticated "
    "requests together (429 beyond); counted per replica.",
)
@click.option(
    "--channel-timeout",
    "channel_timeout",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds a connection may stay idle or send a request half-way before it is closed.",
)
@click.option(
    "--connection-limit",
    "connection_limit",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open connections at most; beyond it new ones wait until one closes.",
)
def server(
    db: str,
    host: str,
    port: int,
    init_owner: str | None,
    token_file: Path | None,
    rate_limit: float | None,
    recover_owner: str | None,
    channel_timeout: int,
    connection_limit: int,
) -> None:
    """Run the credential API until SIGINT or SIGTERM.

    --init-owner on a database that already has an organisation is an error (nothing changes,
    no token is written). Starting again without it keeps all data. The port is bound first:
    if it is busy, nothing is created. --recover-owner EMAIL (with --token-file) works on the
    database only: it gives EMAIL a working Account Owner key and exits.

    \b
    Production layout (several replicas, one PostgreSQL):
      KEYFORM_DATABASE_URL=postgresql://keyform@db.internal/keyform  (password in PGPASSWORD or ~/.pgpass)
      keyform server --host 10.0.0.5 --port 8750   on each of N machines or containers
      any HTTP load balancer in front of the N replicas, terminating TLS
      PostgreSQL with its own backups; replicas migrate its schema at start-up, once
    A SQLite file serves one process only. --rate-limit counts per replica.
    """
    from keyform.server.errors import ServerError
    from keyform.server.runner import Listener, serve

    if recover_owner:
        if init_owner:
            raise ServerError("--init-owner and --recover-owner exclude each other; give one of them")
        _recover(db, recover_owner, token_file)
        return
    if bool(init_owner) != bool(token_file):
        raise ServerError("--init-owner EMAIL and --token-file FILE go together; give both or neither")
    listener = Listener(host, port, channel_timeout=channel_timeout, connection_limit=connection_limit)
    try:
        if init_owner and token_file:
            _warn_if_in_git_work_tree(token_file)
            _write_owner_token(token_file, lambda: _init_organization(db, init_owner))
    except BaseException:
        listener.close()
        raise
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        running = serve(listener, db, rate_limit=rate_limit)
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
