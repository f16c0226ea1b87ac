"""The `keyform` command as a process: what a short-lived process may skip that a library caller can't.

Loading and planning build hundreds of thousands of small objects (the desired and the live
state) that no cycle holds and that live until the command ends. Two costs come with them that
buy nothing in a command:
- the cyclic garbage collector scans them again and again while they are built (`bulk_work`
  pauses it), and once more in full when it is switched back on. The command freezes them
  instead (`gc.freeze`): later collections, during an apply, look only at new objects;
- the interpreter frees them one by one at exit, or when the command's function returns. The
  command keeps them (`keep_until_exit`) and ends with `os._exit` once the exit handlers
  registered after it started have run (logging's among them) and stdout and stderr are flushed.
  Handlers registered before `run_command`, by site hooks, are skipped.

A library caller (keyform imported into a longer-lived program) gets neither: nothing is
frozen, so the collector still frees any cycle the work left behind, and its process ends as usual.
The state below is per process by nature (like the collector it steers), hence module-level.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from keyform.secrets.redaction import Redactor

_command = False  # True in the `keyform` process (run_command), False for library callers
_exit_status: int | None = None  # set when the command ended by SystemExit; None: end as usual
_kept: list[object] = []


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (load, plan).

    Reference counting still frees garbage meanwhile. In the keyform command what was built is
    frozen before the collector resumes (see the module docstring). Nested uses are no-ops.
    """
    if not gc.isenabled():  # already inside
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if _command:
            gc.freeze()
        gc.enable()


def keep_until_exit(*objects: object) -> None:
    """In the keyform command, hold `objects` until the process ends (the OS reclaims them at once);
    for a library caller, do nothing."""
    if _command:
        _kept.extend(objects)


def run_command(main: Callable[[], object]) -> None:
    """Run the click entry point `main` as this process's command, then end quickly.

    Call it before importing what the command needs: its exit handler is registered before
    theirs, so it runs after those that modules register on import (logging's flush among them).
    """
    global _command, _exit_status
    _command = True
    atexit.register(_end_now)
    try:
        main()
    except SystemExit as stop:
        code = stop.code
        _exit_status = code if isinstance(code, int) else 0 if code is None else 1
        raise
    except Exception as error:  # the last resort (see crash_report): no traceback, no secret reaches the user
        print(crash_report(error, Redactor()), file=sys.stderr)
        _exit_status = 1
        raise SystemExit(1) from None


def crash_report(error: BaseException, redactor: Redactor) -> str:
    """One line for an error keyform did not expect (a bug), redacted: what happened and where to report it.

    A traceback can hold any value the run handled (a token in a header, a secret in a body), so
    it is shown only on request (KEYFORM_DEBUG=1), and then redacted as well.
    """
    summary = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    line = (
        f"Error: keyform failed unexpectedly ({summary}). This is a bug: please report it to the keyform "
        "maintainers with this line and the command you ran (KEYFORM_DEBUG=1 adds the traceback)."
    )
    if os.environ.get("KEYFORM_DEBUG") == "1":
        line = "".join(traceback.format_exception(error)) + line
    return redactor.redact(line)


def _end_now() -> None:
    """The last exit handler: flush stdout and stderr as the interpreter would, then end without
    freeing the heap (a failed stdout flush exits 120, as it does in the interpreter)."""
    if _exit_status is None:  # not a SystemExit (a crash, or run_command not used): end as usual
        return
    status = _exit_status
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout:
                status = 120
    os._exit(status)
