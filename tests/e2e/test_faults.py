"""Apply converges through a faulty network: no duplicates, and every secret in the sink works."""

from __future__ import annotations

import random
import shutil

import pytest
import requests
from click.testing import CliRunner

from keyform.cli import main
from tests.e2e.conftest import EXAMPLES, OWNER
from tests.e2e.faultproxy import FaultProxy

WRITES = ("POST", "PATCH", "DELETE")


def schedule(fault: str, seed: int, rate: float, *, writes_only: bool = False, limit: int = 1000):
    """Inject `fault` into a seeded random share of requests, at most `limit` times."""
    rng = random.Random(seed)
    left = [limit]

    def decide(method: str, path: str) -> str | None:
        if writes_only and method not in WRITES:
            return None
        if path.startswith("/v1/locks") or left[0] <= 0 or rng.random() >= rate:
            return None
        left[0] -= 1
        return fault

    return decide


def apply_until_converged(workdir, attempts: int = 3) -> list[str]:
    outputs = []
    for _ in range(attempts):
        result = CliRunner().invoke(main, ["-C", str(workdir), "apply", "--auto-approve"], catch_exceptions=False)
        outputs.append(result.stdout + result.stderr)
        if result.exit_code == 0:
            return outputs
    raise AssertionError("apply did not converge:\n" + outputs[-1])


def assert_every_secret_works(server_url: str, sink: dict) -> None:
    for address, entry in sink.items():
        if entry["type"] == "api_key":
            response = requests.get(
                f"{server_url}/v1/whoami", headers={"Authorization": f"Bearer {entry['api_key']}"}, timeout=10
            )
            assert response.status_code == 200, address
            assert f"users/{response.json()['principal']['name']}" == address
        elif address != "credentials/legacy-export":  # declared disabled: its secret can't be exchanged
            body = {
                "grant_type": "client_credentials",
                "client_id": entry["client_id"],
                "client_secret": entry["client_secret"],
            }
            assert requests.post(f"{server_url}/v1/oauth/token", json=body, timeout=10).status_code == 200, address


FAULTS = [
    ("status-500", 0.15, False, 7),
    ("status-429", 0.05, False, 7),
    ("latency", 0.05, False, 7),
    ("reset", 0.1, False, 7),
    ("drop-after-commit", 0.3, True, 7),
    ("drop-after-commit", 0.3, True, 11),
    ("drop-after-commit", 0.5, True, 23),
]


@pytest.mark.parametrize(("fault", "rate", "writes_only", "seed"), FAULTS, ids=[f"{f[0]}-seed{f[3]}" for f in FAULTS])
def test_apply_converges_under_fault(fault, rate, writes_only, seed, tmp_path, monkeypatch):
    from keyform.server import running_server

    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    config = workdir / "keyform.yaml"
    config.write_text(config.read_text().replace("  timeout: 30", "  timeout: 0.4"))
    limit = 4 if fault in ("latency", "status-429") else 1000
    with running_server(tmp_path / "db.sqlite", init_owner=OWNER) as server:
        decide = schedule(fault, seed=seed, rate=rate, writes_only=writes_only, limit=limit)
        with FaultProxy(server.url, decide, latency=0.6) as proxy:
            monkeypatch.setenv("KEYFORM_URL", proxy.url)
            monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
            outputs = apply_until_converged(workdir)
            assert proxy.injected[fault] > 0, "the fault never happened: the test proves nothing"
        monkeypatch.setenv("KEYFORM_URL", server.url)
        final = CliRunner().invoke(main, ["-C", str(workdir), "plan", "--detailed-exitcode"], catch_exceptions=False)
        assert final.exit_code == 0, final.output
        listing = requests.get(
            f"{server.url}/v1/credentials?limit=1000",
            headers={"Authorization": f"Bearer {server.owner_token}"},
            timeout=10,
        ).json()
        names = [item["name"] for item in listing["items"]]
        assert sorted(names) == ["bi-reporting", "legacy-export", "payroll-sync", "shift-planner"]  # no duplicates
        assert all(len(item["secrets"]) == 1 for item in listing["items"])  # no orphaned second secret
        import json

        sink = json.loads((workdir / ".keyform" / "secrets.json").read_text())
        assert len(sink) == 7
        assert_every_secret_works(server.url, sink)
        values = [v for e in sink.values() for k, v in e.items() if k in ("api_key", "client_secret")]
        for text in [*outputs, final.output]:
            assert not any(value in text for value in values)
