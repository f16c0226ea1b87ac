"""examples/providers/tokenstore, installed into a fresh virtualenv, through the real `keyform` command:
validate, plan, apply, rotate, verify, export; keyform.testing passes; and its keyform-generated
secrets survive SIGKILL at every point of the write-ahead order."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import site
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.crashpoints import POINTS, killed_at

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "providers" / "tokenstore"
TIMEOUT = 120  # seconds any one command may take before the test gives up (a hang, not a slow run)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with keyform and the example installed from this checkout (no network: it
    sees this environment's packages through a .pth file and builds without isolation)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    ).stdout.strip()
    (Path(purelib) / "keyform-test-parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*install, "-e", ROOT, "-e", EXAMPLE], check=True, timeout=TIMEOUT * 2, capture_output=True)
    return venv


@dataclass
class Store:
    """A running token store, a project folder, and every output of the commands run against it."""

    venv: Path
    url: str
    admin: str
    workdir: Path
    outputs: list[str]

    def env(self) -> dict[str, str]:
        return {**os.environ, "TOKENSTORE_URL": self.url, "TOKENSTORE_TOKEN": self.admin}

    def keyform(self, *args: str, code: int | None = 0, workdir: Path | None = None) -> subprocess.CompletedProcess:
        command = [self.venv / "bin" / "keyform", "-v", "-C", workdir or self.workdir, *args]
        done = subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=TIMEOUT)
        self.outputs.append(done.stdout + done.stderr)
        if code is not None:
            assert done.returncode == code, f"keyform {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def sink(self) -> dict:
        path = self.workdir / ".keyform" / "secrets.json"
        document = json.loads(path.read_text()) if path.exists() else {}
        pending = path.with_name("secrets.json.pending")
        for line in pending.read_text().splitlines() if pending.exists() else ():
            if line.endswith("}"):
                record = json.loads(line)
                document[record["address"]] = record["entry"]
        return document

    def tokens(self) -> dict[str, dict]:
        headers = {"Authorization": f"Bearer {self.admin}"}
        body = requests.get(f"{self.url}/tokens?limit=1000", headers=headers, timeout=10).json()
        return {f"tokens/{item['name']}": item for item in body["items"]}

    def authenticates(self, token: str) -> str | None:
        answer = requests.get(f"{self.url}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return f"tokens/{answer.json()['token']}" if answer.status_code == 200 else None


def write_project(workdir: Path, tokens: dict[str, dict]) -> None:
    workdir.mkdir(exist_ok=True)
    document = {
        "version": 1,
        "provider": {"type": "tokenstore", "url": "${env:TOKENSTORE_URL}", "token": "${env:TOKENSTORE_TOKEN}"},
        "teams": {"payments": {"description": "Payments"}},
        "tokens": tokens,
    }
    (workdir / "keyform.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def store(venv: Path, tmp_path: Path) -> Iterator[Store]:
    admin = secrets.token_urlsafe(24)
    server = subprocess.Popen(
        [venv / "bin" / "python", "-m", "keyform_tokenstore.server"],
        env={**os.environ, "TOKENSTORE_ADMIN_TOKEN": admin},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://127.0.0.1:"), url
        yield Store(venv, url, admin, tmp_path / "project", [])
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def all_values(entry: dict) -> list[str]:
    """The token values a sink entry holds: its confirmed one and any pending ones."""
    return [part["token"] for part in (entry, *entry.get("pending", ())) if "token" in part]


def test_the_installed_example_validates_plans_applies_rotates_verifies_and_exports(store: Store) -> None:
    write_project(
        store.workdir,
        {
            "ci": {"team": "payments", "scopes": ["invoices:read"], "rotate_after": "30d"},
            "deploy": {"team": "payments"},
        },
    )
    assert "2 tokens" in store.keyform("validate").stdout
    assert '"tokens"' in store.keyform("schema", "--provider", "tokenstore").stdout
    planned = store.keyform("plan", "--detailed-exitcode", code=2)
    assert "+ tokens/ci  (create)  [new secret -> sink]" in planned.stdout
    store.keyform("apply", "--auto-approve")
    store.keyform("plan", "--detailed-exitcode")
    first = store.sink()["tokens/ci"]["token"]
    assert store.authenticates(first) == "tokens/ci"
    store.keyform("rotate", "tokens/ci", "--auto-approve")
    rotated = store.sink()["tokens/ci"]["token"]
    assert rotated != first and store.authenticates(rotated) == "tokens/ci" and store.authenticates(first) is None
    assert "ok   tokens/ci: authenticates with scopes invoices:read" in store.keyform("verify").stdout
    exported = store.workdir.parent / "exported"
    exported.mkdir()
    (exported / "keyform.yaml").write_text(store.keyform("export").stdout)
    store.keyform("plan", "--detailed-exitcode", workdir=exported)
    for value in (first, rotated, store.sink()["tokens/deploy"]["token"]):
        assert not any(value in text for text in store.outputs)


def test_the_example_passes_the_conformance_kit(venv: Path) -> None:
    done = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


# Runs `keyform` with a SIGKILL at one point of a keyform-generated secret's way to the store.
KILLED_AT = killed_at("keyform_tokenstore.provider", "TokenStoreProvider")


def assert_every_live_secret_is_in_the_sink(store: Store) -> None:
    sink = store.sink()
    for address in store.tokens():
        holders = [value for value in all_values(sink.get(address, {})) if store.authenticates(value) == address]
        assert holders, f"{address}: its live secret is nowhere in the sink"


def assert_converged(store: Store) -> None:
    store.keyform("apply", "--auto-approve")
    store.keyform("plan", "--detailed-exitcode")
    assert "ok" in store.keyform("verify").stdout
    assert not any(entry.get("pending") for entry in store.sink().values())


def test_a_rotation_killed_at_each_point_keeps_the_live_secret_in_the_sink(store: Store) -> None:
    write_project(store.workdir, {"ci": {"team": "payments"}})
    store.keyform("apply", "--auto-approve")
    rotate = ["-C", store.workdir, "rotate", "tokens/ci", "--auto-approve"]
    for point in POINTS:
        killed = subprocess.run(
            [store.venv / "bin" / "python", "-c", KILLED_AT, point, *rotate],
            env=store.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert killed.returncode == -signal.SIGKILL, f"{point}: {killed.stdout}{killed.stderr}"
        assert_every_live_secret_is_in_the_sink(store)
        if point in ("before-set", "after-set"):  # written ahead, not confirmed: which one is live is unknown
            assert "an apply stopped while setting its new secret" in store.keyform("verify", code=None).stdout
        store.keyform("apply", "--auto-approve")  # re-issues the secret the killed run was setting
        assert_every_live_secret_is_in_the_sink(store)
    assert_converged(store)


def test_a_create_of_many_tokens_killed_mid_way_converges_and_loses_no_secret(store: Store) -> None:
    count = 30
    write_project(store.workdir, {f"t{i:02}": {"team": "payments"} for i in range(count)})
    journal = store.workdir / ".keyform" / "journal.jsonl"
    apply = subprocess.Popen(
        [store.venv / "bin" / "keyform", "-C", store.workdir, "apply", "--auto-approve"],
        env=store.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_at = random.Random(16).randint(5, count - 10)
    deadline = time.monotonic() + TIMEOUT
    while apply.poll() is None and time.monotonic() < deadline:
        begun = journal.read_text().count('"event": "begin"') if journal.exists() else 0
        if begun >= kill_at:
            break
        time.sleep(0.002)
    apply.send_signal(signal.SIGKILL)
    apply.wait()
    assert apply.returncode == -signal.SIGKILL, "apply finished before the kill: the test proves nothing"
    assert_every_live_secret_is_in_the_sink(store)
    assert_converged(store)
    sink = store.sink()
    assert sorted(store.tokens()) == sorted(sink) == [f"tokens/t{i:02}" for i in range(count)]
    for address, entry in sink.items():
        assert store.authenticates(entry["token"]) == address
