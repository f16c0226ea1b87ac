"""keyform's benchmark: `python bench/run.py` (from a checkout with keyform installed).

For each size N it starts `keyform server` (its own process, temporary database), seeds N users
with API keys, N credentials and 50 roles, then times each step as a whole process, several runs,
and reports the median wall time, the HTTP requests the server counted, and the peak RSS.
All ratios in the table come from this one run on this one machine.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import seed, write_config

BENCH = Path(__file__).resolve().parent
KEYFORM = [sys.executable, "-m", "keyform"]


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    requests: int
    exit_code: int


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen

    def requests_served(self) -> int:
        stats = requests.get(
            f"{self.url}/v1/server/stats", headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        return stats.json()["requests"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir: Path) -> Server:
    port, token_file = free_port(), workdir / "owner.key"
    process = subprocess.Popen(
        [
            *KEYFORM,
            "server",
            "--db",
            str(workdir / "bench.db"),
            "--port",
            str(port),
            "--init-owner",
            "owner@bench.example",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    process.stdout.readline()
    return Server(f"http://127.0.0.1:{port}", token_file.read_text().strip(), process)


GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time and stdout of one whole-process run (exit 0 or 2, a plan's drift code); else stop."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise SystemExit(f"{command[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def measure(command: list[str], env: dict[str, str], server: Server | None = None) -> Sample:
    """Run one command as its own process: wall time, CPU (user+sys), peak RSS and requests served.

    Peak RSS comes from GNU time (a small process that forks the command): a child spawned straight
    from this Python process would report this process's memory too (vfork shares it until exec).
    """
    before = server.requests_served() if server else 0
    report = Path(tempfile.mkstemp(prefix="keyform-bench-rss-")[1])
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(report), *command] if GNU_TIME else command
    started = time.perf_counter()
    process = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    rss_kb = int(report.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    report.unlink()
    served = server.requests_served() - before - 1 if server else 0  # minus the stats call itself
    if process.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{error}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024, served, process.returncode)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        max(s.rss_mb for s in samples),
        samples[-1].requests,
        samples[-1].exit_code,
    )


def delete_credentials(server: Server, names: set[str]) -> None:
    """Remove the credentials an apply run created, so every run starts from the same state."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with requests.Session() as session:
        session.headers.update(headers)
        ids, cursor = [], None
        while True:
            page = session.get(
                f"{server.url}/v1/credentials",
                params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                timeout=60,
            ).json()
            ids += [item["id"] for item in page["items"] if item["name"] in names]
            if not (cursor := page["next_cursor"]):
                break
        for credential_id in ids:
            session.delete(f"{server.url}/v1/credentials/{credential_id}", timeout=60).raise_for_status()


def bench_size(n: int, runs: int, root: Path) -> dict[str, Sample]:
    workdir = root / f"n{n}"
    workdir.mkdir()
    server = start_server(workdir)
    try:
        began = time.perf_counter()
        seed(server.url, server.token, n)
        print(f"  seeded N={n} in {time.perf_counter() - began:.1f}s", file=sys.stderr)
        env = {**os.environ, "KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.token}
        same, changed, grow = workdir / "same", workdir / "changed", workdir / "grow"
        write_config(same / "keyform.yaml", n)
        write_config(changed / "keyform.yaml", n, changed_every=100)
        reads = {
            "floor": [sys.executable, str(BENCH / "floor.py")],
            "plan": [*KEYFORM, "-C", str(same), "plan", "--detailed-exitcode"],
            "plan_1pct": [*KEYFORM, "-C", str(changed), "plan", "--detailed-exitcode"],
        }
        samples: dict[str, list[Sample]] = {key: [] for key in reads}
        for _ in range(runs):  # interleaved, so a slow spell of a shared machine hits floor and plans alike
            for key, command in reads.items():
                samples[key].append(measure(command, env, server))
        results = {key: median(taken) for key, taken in samples.items()}
        new_names = {f"cred-{i:05}" for i in range(n, n + 1000)}
        creates, applies = [], []
        for _ in range(runs):  # interleaved too
            creates.append(measure([sys.executable, str(BENCH / "create_floor.py"), str(n)], env, server))
            delete_credentials(server, new_names)
            shutil.rmtree(grow, ignore_errors=True)
            write_config(grow / "keyform.yaml", n, extra_credentials=1000)
            applies.append(measure([*KEYFORM, "-C", str(grow), "apply", "--auto-approve"], env, server))
            delete_credentials(server, new_names)
        results["create_floor"] = median(creates)
        results["apply_1000"] = median(applies)
        return results
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        server.process.stdout.close()


def startup(runs: int) -> dict[str, Sample]:
    env = dict(os.environ)
    return {
        "help": median([measure([*KEYFORM, "--help"], env) for _ in range(runs)]),
        "python": median([measure([sys.executable, "-c", "pass"], env) for _ in range(runs)]),
    }


def compile_keyform(package: Path | None = None) -> None:
    """Write keyform's bytecode before timing, as `pip install` does: run from a checkout with
    PYTHONDONTWRITEBYTECODE set, every command would compile keyform's modules again (0.15 s of a
    plan's CPU at 2026-11-30's size)."""
    if package is None:
        spec = importlib.util.find_spec("keyform")
        assert spec is not None and spec.submodule_search_locations, "keyform is not installed"
        package = Path(next(iter(spec.submodule_search_locations)))
    compileall.compile_dir(str(package), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compile_keyform()
    root = Path(tempfile.mkdtemp(prefix="keyform-bench-"))
    try:
        sizes = {}
        for n in args.sizes:
            sizes[n] = bench_size(n, args.runs, root)
        boot = startup(max(args.runs, 5))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(report(sizes, boot, args.runs))


def report(sizes: dict[int, dict[str, Sample]], boot: dict[str, Sample], runs: int) -> str:
    machine = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"keyform benchmark, {datetime.now(UTC):%Y-%m-%d}, {machine}, median of {runs} runs",
        "",
        "| N | step | wall (s) | CPU (s) | vs floor | HTTP requests | peak RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    names = {
        "floor": "floor: fetch every page",
        "plan": "keyform plan, no changes",
        "plan_1pct": "keyform plan, 1% changed",
        "create_floor": "floor: 1,000 creates, 8 at a time",
        "apply_1000": "keyform apply, 1,000 new credentials",
    }

    def row(n: str, name: str, sample: Sample, ratio: str = "") -> str:
        cells = [
            n,
            name,
            f"{sample.wall:.3f}",
            f"{sample.cpu:.3f}",
            ratio,
            f"{sample.requests:,}",
            f"{sample.rss_mb:.0f}",
        ]
        return "| " + " | ".join(cells) + " |"

    for n, results in sizes.items():
        floor = results["floor"].wall
        apply_floor = floor + results["create_floor"].wall  # read everything, then create 1,000
        for key, name in names.items():
            ratio = ""
            if key.startswith("plan"):
                ratio = f"{results[key].wall / floor:.2f}x"
            elif key == "apply_1000":
                ratio = f"{results[key].wall / apply_floor:.2f}x both floors"
            lines.append(row(f"{n:,}", name, results[key], ratio))
    lines.append(row("-", "keyform --help", boot["help"], f"{boot['help'].wall / boot['python'].wall:.1f}x python"))
    lines.append(row("-", "python -c pass", boot["python"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
