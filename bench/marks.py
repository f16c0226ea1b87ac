"""Run `keyform ARGS...` in this process with marks between the pipeline's steps (for `phases.py`).

`python bench/marks.py ARGS...` with $KEYFORM_BENCH_MARKS naming the file the marks go to, as
JSON: [step that ended, wall clock, process CPU (every thread), main-thread CPU] each. The marks
wrap the engine's and the loader's steps from outside, replacing module attributes in this
process only: a measuring tool, not keyform's code. This module imports only what the
interpreter has loaded anyway, so the first mark is the interpreter's own start-up.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

marks: list[tuple[str, float, float, float]] = []


def mark(step: str) -> None:
    """`step` ended now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    marks.append((step, time.time(), usage.ru_utime + usage.ru_stime, time.thread_time()))


def write_marks() -> None:
    import json

    mark("exit handlers")
    with open(os.environ["KEYFORM_BENCH_MARKS"], "w") as file:
        json.dump(marks, file)


def after(owner: Any, name: str, step: str, *, before: str | None = None) -> None:
    """Mark `step` when `owner.name` returns (and `before` when the main thread calls it)."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before is not None and threading.current_thread() is threading.main_thread():
            mark(before)
        result = original(*args, **kwargs)
        mark(step)
        return result

    setattr(owner, name, wrapped)


def main() -> None:
    mark("start")
    atexit.register(write_marks)  # registered first, so it runs last of the exit handlers
    import click  # noqa: F401

    import keyform.cli  # noqa: F401

    mark("imports: click, keyform.cli")
    from keyform import engine
    from keyform.config import load

    mark("imports: keyform.engine (loader, planner, requests)")
    after(engine, "load", "load: the rest (secrets registered, sink recovery)", before="peek, start the live read")
    after(load, "load_tree", "load: YAML files (parse and build)")
    after(load, "build_state", "load: typed desired state", before="load: merge, schema, semantic checks")
    after(engine.Run, "read_live", "wait for the live read", before="the diff's desired side")
    after(engine, "make_plan", "diff, risks (make_plan)")
    after(engine, "check_safety", "safety checks")
    after(engine, "render", "render")
    sys.argv = ["keyform", *sys.argv[1:]]
    from keyform.__main__ import run

    try:
        run()
    finally:
        mark("end of command (free the run, click exits)")


if __name__ == "__main__":
    main()
