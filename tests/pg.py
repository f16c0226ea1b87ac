"""A private PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary folder, one per session.

The cluster listens on a free loopback port (and a Unix socket inside its folder only), with
password authentication for TCP (md5: SCRAM's key stretching would slow every test connection),
and is stopped and deleted at the end of the session. Tests get
fresh databases cloned from a template (`CREATE DATABASE x TEMPLATE t`, cheap).

PostgreSQL refuses to run as root: as root (CI runs as root) the cluster runs as the `postgres`
user if it exists (Debian's postgresql package creates it), else as `nobody`; as anyone else it
runs as yourself. Binaries are searched in $KEYFORM_PG_BIN, /usr/lib/postgresql/<newest>/bin
(Debian), the folder of `initdb` on PATH, and the `pgserver` PyPI package (`pip install pgserver`
ships the binaries, for machines without apt or root).

Fixtures (registered by tests/conftest.py):
    pg_cluster   session: the running `Cluster`; skips (fails under CI=true) when PostgreSQL is missing
    pg_database  function: the URL of a fresh, empty database, dropped after the test
Library use (e.g. for a PostgreSQL provider's tests):
    cluster.url(name) / cluster.create_database(template=...) / cluster.drop_database(name) /
    cluster.connect(name) (autocommit psycopg connection as the superuser)
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "keyform_test"
INSTALL_HINT = (
    "PostgreSQL is not installed: apt-get install postgresql, or pip install pgserver, "
    "or set KEYFORM_PG_BIN to the folder holding initdb and pg_ctl"
)
SETTINGS = {  # a throwaway cluster: durability off, fast start, cheap (md5) password checks
    "listen_addresses": "127.0.0.1",
    "password_encryption": "md5",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
}


def find_bin_dir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres, or None."""
    candidates: list[Path] = []
    if os.environ.get("KEYFORM_PG_BIN"):
        candidates.append(Path(os.environ["KEYFORM_PG_BIN"]))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    candidates += debian
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(location) / "pginstall" / "bin" for location in spec.submodule_search_locations]
    return next((c for c in candidates if all((c / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))), None)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root (PostgreSQL refuses to run as root); {} for other users."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """A running private cluster; `stop()` shuts it down and deletes its folder."""

    bin_dir: Path
    folder: Path
    port: int
    password: str
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    _names: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls, bin_dir: Path) -> Cluster:
        folder = Path(tempfile.mkdtemp(prefix="keyform-pg-"))
        run_as = _run_as()
        if run_as:
            os.chown(folder, run_as["user"], run_as["group"])
        password = secrets.token_urlsafe(16)
        pwfile = folder / "pwfile"
        pwfile.write_text(password + "\n")
        if run_as:
            os.chown(pwfile, run_as["user"], run_as["group"])
        data = folder / "data"
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}"]
        initdb += ["--auth-local=trust", "--auth-host=md5", "-E", "UTF8", "--locale=C", "--no-sync"]
        _check(subprocess.run(initdb, capture_output=True, text=True, check=False, **run_as), "initdb")
        pwfile.unlink()
        for _attempt in range(3):  # the free port may be taken between the probe and the start
            cluster = cls(bin_dir, folder, _free_port(), password)
            options = " ".join(f"-c {key}={value}" for key, value in SETTINGS.items())
            options += f" -p {cluster.port} -c unix_socket_directories={folder}"
            start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60"]
            result = subprocess.run([*start, "-o", options, "start"], capture_output=True, text=True, **run_as)
            if result.returncode == 0:
                cluster._store_password_as_md5()
                return cluster
        log = (folder / "log").read_text(errors="replace")[-2000:]
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()}\n{log}")

    def _store_password_as_md5(self) -> None:
        """initdb stored a SCRAM verifier; store it again under password_encryption = md5 (over the socket)."""
        import psycopg

        socket_url = f"host={self.folder} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(socket_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(self.user), psycopg.sql.Literal(self.password)
                )
            )

    def stop(self) -> None:
        stop = [str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"]
        subprocess.run(stop, capture_output=True, check=False, **_run_as())
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> Any:
        """An autocommit psycopg connection as the superuser (close it, or use it in a `with`)."""
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self, *, template: str = "template0") -> str:
        """A new database cloned from `template` (no one may be connected to it); returns its URL."""
        import psycopg

        name = f"test_{next(self._names)}_{secrets.token_hex(3)}"
        with self.connect() as conn:
            for _attempt in range(50):  # a just-closed connection to the template may linger a moment
                try:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    break
                except psycopg.errors.ObjectInUse:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"template database {template} stays in use")
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        name = url_or_name.rsplit("/", 1)[-1]
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed: {(result.stderr or result.stdout).strip()}")


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, which must run these tests (.ci/run installs PostgreSQL)."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("psycopg is not installed: pip install -e '.[test]'")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable(INSTALL_HINT)
    assert bin_dir is not None
    cluster = Cluster.start(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: Cluster) -> Iterator[str]:
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)
