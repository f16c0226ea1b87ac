"""A/B comparison of keyform source trees on one no-op plan: `python bench/ab.py NAME=SRC_DIR ...`.

Starts one `keyform server` (temporary database), seeds it with N users, N credentials and 50
roles (`seed.py`), then runs, round after round, the fetch floor and `keyform plan` from each
source tree (`PYTHONPATH=SRC_DIR`, so every variant runs on the same interpreter and packages),
interleaved so a slow spell of a shared machine hits them all. Prints the median wall and CPU
time of each, its ratio to the floor, and the median of `keyform --help` from each tree.

Used to decide whether a process-level trick earns its place (issue 16: more than 5% of a
no-op plan at N = 10,000): make a copy of `src/` without the trick and compare the two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BENCH, compile_keyform, measure, start_server
from seed import seed, write_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", metavar="NAME=SRC_DIR")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    variants = dict(item.split("=", 1) for item in args.variants)
    for src in variants.values():
        compile_keyform(Path(src) / "keyform")
    root = Path(tempfile.mkdtemp(prefix="keyform-ab-"))
    server = start_server(root)
    try:
        seed(server.url, server.token, args.n)
        write_config(root / "same" / "keyform.yaml", args.n)
        base_env = {**os.environ, "KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.token}
        envs = {name: {**base_env, "PYTHONPATH": str(Path(src).resolve())} for name, src in variants.items()}
        walls: dict[str, list[float]] = {name: [] for name in ["floor", *variants]}
        cpus: dict[str, list[float]] = {name: [] for name in walls}
        helps: dict[str, list[float]] = {name: [] for name in variants}
        plan = [sys.executable, "-m", "keyform", "-C", str(root / "same"), "plan", "--detailed-exitcode"]
        for number in range(args.rounds):
            sample = measure([sys.executable, str(BENCH / "floor.py")], base_env, server)
            walls["floor"].append(sample.wall)
            cpus["floor"].append(sample.cpu)
            for name, env in envs.items():
                sample = measure(plan, env, server)
                walls[name].append(sample.wall)
                cpus[name].append(sample.cpu)
                helps[name].append(measure([sys.executable, "-m", "keyform", "--help"], env).wall)
            print(f"round {number + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in walls.items()), file=sys.stderr)
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    floor = statistics.median(walls["floor"])
    print(f"N = {args.n:,}, {args.rounds} interleaved rounds, medians")
    print("| variant | plan wall (s) | CPU (s) | vs floor | --help (s) |")
    print("|---|---:|---:|---:|---:|")
    for name in walls:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        help_wall = f"{statistics.median(helps[name]):.3f}" if name in helps else ""
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / floor:.2f}x | {help_wall} |")


if __name__ == "__main__":
    main()
