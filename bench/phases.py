"""Where one whole `keyform plan` process spends its time: `python bench/phases.py` (~3 minutes).

Seeds a `keyform server` as `run.py` does (N = 10,000 by default), then runs the no-op plan
`--rounds` times, each as its own process with marks between the pipeline's steps, and prints
the medians of each step: CPU of the whole process (every thread), CPU of the main thread (the
rest is the live read's threads, running alongside) and wall time. Start-up is the CPU the
process used before its first mark; interpreter exit is what the kernel counted after the last
`atexit` handler. The rows add up to the whole process, as `run.py` measures it.

The marks come from `marks.py`, which runs the command in the child process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BENCH, compile_keyform, start_server
from seed import seed, write_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    compile_keyform()
    root = Path(tempfile.mkdtemp(prefix="keyform-phases-"))
    server = start_server(root)
    try:
        seed(server.url, server.token, args.n)
        write_config(root / "same" / "keyform.yaml", args.n)
        env = {**os.environ, "KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.token}
        plan = ["-C", str(root / "same"), "plan", "--detailed-exitcode"]
        runs = [_one_run(plan, env, root / "marks.json") for _ in range(args.rounds)]
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    print(_table(runs, args.n))


def _one_run(plan: list[str], env: dict[str, str], marks_file: Path) -> list[tuple[str, float, float, float]]:
    """One plan as its own process: (step, CPU, main-thread CPU, wall) for every step."""
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "marks.py"), *plan],
        env={**env, "KEYFORM_BENCH_MARKS": str(marks_file)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    error = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    ended = time.time()
    if os.waitstatus_to_exitcode(status) not in (0, 2):
        raise SystemExit(f"keyform plan failed:\n{error.decode(errors='replace')}")
    marks = json.loads(marks_file.read_text())  # [step that ended, wall clock, process CPU, main-thread CPU]
    first = marks[0]
    steps = [("start-up (interpreter, site)", first[2], first[3], first[1] - started)]
    for (_, wall0, cpu0, main0), (name, wall, cpu, main) in itertools.pairwise(marks):
        steps.append((name, cpu - cpu0, main - main0, wall - wall0))
    last = marks[-1]
    total = usage.ru_utime + usage.ru_stime
    steps.append(("interpreter exit (teardown)", total - last[2], total - last[2], ended - last[1]))
    return steps


def _table(runs: list[list[tuple[str, float, float, float]]], n: int) -> str:
    names = [step[0] for step in runs[0]]
    lines = [
        f"N = {n:,}, {len(runs)} runs, medians; load average {os.getloadavg()[0]:.1f}",
        "",
        "| step | CPU, all threads (s) | main thread (s) | wall (s) |",
        "|---|---:|---:|---:|",
    ]
    for index, name in enumerate(names):
        cpu, main, wall = (statistics.median(run[index][column] for run in runs) for column in (1, 2, 3))
        lines.append(f"| {name} | {cpu:.3f} | {main:.3f} | {wall:.3f} |")
    totals = [sum(step[1] for step in run) for run in runs]
    walls = [sum(step[3] for step in run) for run in runs]
    lines.append(f"| whole process | {statistics.median(totals):.3f} | | {statistics.median(walls):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
