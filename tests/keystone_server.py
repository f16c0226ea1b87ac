"""A real OpenStack Keystone for the tests, in a virtual environment of its own.

Keystone pins many libraries that must never mix with keyform's, so it lives in its own venv:
`$KEYFORM_KEYSTONE_VENV`, or `~/.cache/keyform-tests/keystone-venv-<version>-<pins>`, created on
first use from tests/keystone-constraints.txt and kept between runs (`.ci/run` creates it with
`python -m tests.keystone_server`). A cold start (bootstrap of a SQLite database, fernet and
credential keys, admin user) takes about 20 s, so it happens once per test session; the
database right after bootstrap is kept as a template, and `reset()` copies it back into the live
database with SQLite's backup API while the server runs and waits for Keystone's one-second
in-process cache to expire, which gives each test module a clean Keystone in about 1 s (a stop,
copy and restart costs about 6 s).

Everything listens on 127.0.0.1 only; the cache is in-process (no memcached), notifications and
every other networked feature are off.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

KEYSTONE_VERSION = "30.0.0"
HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "keystone-constraints.txt"
LAUNCHER = HERE / "keystone_launcher.py"
ADMIN = "admin"
CACHE_SECONDS = 1
START_TIMEOUT = 180  # seconds; a bound against a hang, not a measurement


def venv_path() -> Path:
    """Where the Keystone venv lives: a new folder whenever the pinned packages change."""
    if os.environ.get("KEYFORM_KEYSTONE_VENV"):
        return Path(os.environ["KEYFORM_KEYSTONE_VENV"])
    pins = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:10]
    return Path.home() / ".cache" / "keyform-tests" / f"keystone-venv-{KEYSTONE_VERSION}-{pins}"


def ensure_venv(path: Path | None = None) -> Path:
    """Create the Keystone venv unless a complete one is there (safe to call concurrently)."""
    path = path or venv_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    complete = path / ".keyform-complete"
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete.exists():
            return path
        shutil.rmtree(path, ignore_errors=True)  # a half-made venv from an interrupted run
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(path)], check=True)
        install = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*install, "-c", str(CONSTRAINTS), f"keystone=={KEYSTONE_VERSION}", "waitress"], check=True)
        complete.write_text(KEYSTONE_VERSION + "\n")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keystone_conf(folder: Path, options: Mapping[str, Mapping[str, object]] = {}) -> str:
    """keystone.conf for a test server in `folder`: SQLite, fernet tokens, nothing networked."""
    sections: dict[str, dict[str, object]] = {
        "DEFAULT": {"use_stderr": "true", "debug": "false", "insecure_debug": "false"},
        "database": {"connection": f"sqlite:///{folder / 'keystone.db'}"},
        "fernet_tokens": {"key_repository": folder / "fernet-keys"},
        "fernet_receipts": {"key_repository": folder / "fernet-keys"},
        "credential": {"key_repository": folder / "credential-keys"},
        "token": {"provider": "fernet"},
        # In-process cache (no memcached): requests take ~30 ms instead of ~600 ms. Entries live
        # CACHE_SECONDS, so `reset()` waits that long after replacing the database under it.
        "cache": {"enabled": "true", "backend": "dogpile.cache.memory", "expiration_time": CACHE_SECONDS},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_policy": {"enforce_new_defaults": "true", "enforce_scope": "true"},
        "identity": {"password_hash_rounds": 4},  # bcrypt's floor: test passwords need no strength
    }
    for section, values in options.items():
        sections.setdefault(section, {}).update(values)
    return "".join(
        f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()) + "\n"
        for section, values in sections.items()
    )


@dataclass
class KeystoneServer:
    """One Keystone process on a loopback port, its folder, and its admin's credentials."""

    folder: Path
    venv: Path
    port: int
    admin_password: str
    options: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    @property
    def database(self) -> Path:
        return self.folder / "keystone.db"

    @property
    def template(self) -> Path:
        return self.folder / "template.db"

    @property
    def log(self) -> Path:
        return self.folder / "keystone.log"

    def admin_options(self) -> dict[str, str]:
        """Provider options for the bootstrap admin (the names clouds.yaml uses)."""
        return {
            "auth_url": self.url,
            "username": ADMIN,
            "password": self.admin_password,
            "project_name": ADMIN,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def _manage(self, *args: str) -> subprocess.Popen:
        return self._run("manage", "--config-file", str(self.folder / "keystone.conf"), *args)

    def _run(self, *args: str) -> subprocess.Popen:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OS_KEYSTONE_CONFIG_DIR": str(self.folder)}
        log = open(self.log, "a")  # noqa: SIM115 (the child keeps it)
        with log:
            return subprocess.Popen(
                [str(self.venv / "bin" / "python"), "-I", str(LAUNCHER), *args],  # -I: tests/ off sys.path,
                cwd=self.folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def write_conf(self) -> None:
        (self.folder / "keystone.conf").write_text(keystone_conf(self.folder, self.options))

    def bootstrap(self) -> None:
        """db_sync and both key setups (in parallel), then the admin user; keep the database as template."""
        self.write_conf()
        uid, gid = str(os.getuid()), str(os.getgid())
        owner = ["--keystone-user", uid, "--keystone-group", gid]
        steps = [
            self._manage("db_sync"),
            self._manage("fernet_setup", *owner),
            self._manage("credential_setup", *owner),
        ]
        self._wait_all(steps, "setup")
        # one argument with `=`: a urlsafe password may start with "-", which argparse would take for an option
        bootstrap = [f"--bootstrap-password={self.admin_password}", "--bootstrap-region-id", "RegionOne"]
        self._wait_all([self._manage("bootstrap", *bootstrap, "--bootstrap-public-url", self.url)], "bootstrap")
        shutil.copyfile(self.database, self.template)

    def _wait_all(self, processes: list[subprocess.Popen], what: str) -> None:
        codes = [process.wait(timeout=START_TIMEOUT) for process in processes]
        if any(codes):
            raise RuntimeError(f"keystone-manage {what} failed ({codes}); see {self.log}:\n{self.tail()}")

    def start(self) -> None:
        self.write_conf()
        self.process = self._run("serve", "127.0.0.1", str(self.port))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Keystone exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.url, timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Keystone did not answer on {self.url} within {START_TIMEOUT} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def reset(self) -> None:
        """Back to the state right after bootstrap, while the server keeps running."""
        with closing(sqlite3.connect(self.template)) as source, closing(sqlite3.connect(self.database)) as target:
            source.backup(target)
        time.sleep(CACHE_SECONDS + 0.1)  # let every cached entry of the old database expire

    def restart(self, options: Mapping[str, Mapping[str, object]]) -> None:
        """Stop, rewrite keystone.conf with these extra options, start (about 6 s)."""
        self.stop()
        self.options = options
        self.start()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def bootstrapped_server(folder: Path) -> KeystoneServer:
    """A bootstrapped, started Keystone in `folder`, made if missing (the caller stops it)."""
    folder.mkdir(parents=True, exist_ok=True)
    server = KeystoneServer(folder, ensure_venv(), free_port(), secrets.token_urlsafe(18))
    server.bootstrap()
    server.start()
    return server


@pytest.fixture(scope="session")
def keystone_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    """One Keystone for the whole test session (cold start: bootstrap once)."""
    server = bootstrapped_server(tmp_path_factory.mktemp("keystone"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keystone(keystone_session: KeystoneServer) -> KeystoneServer:
    """A clean Keystone for this test module: the session's server reset to right after bootstrap."""
    keystone_session.reset()
    return keystone_session


if __name__ == "__main__":  # .ci/run: `python -m tests.keystone_server` makes the venv ahead of the tests
    print(ensure_venv())
