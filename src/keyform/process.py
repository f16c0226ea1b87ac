"""The `keyform` command as a process: the last-resort handler, and the one process-level setting
a short-lived command can afford and a library caller can't.

Loading and planning build hundreds of thousands of small objects (the desired and the live
state) that no cycle holds and that live until the command ends. The cyclic garbage collector
would scan them again and again while they are built; the command switches it off instead
(reference counting still frees everything that is not in a cycle). bench/README.md has the
figures that keep this here (issue 16: a trick stays only if it saves more than 5% of a no-op
plan at N = 10,000). A library caller keeps its collector: only `run_command` switches it off.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Callable

from keyform.secrets.redaction import Redactor


def run_command(main: Callable[[], object]) -> None:
    """Run the click entry point `main` as this process's command: an error nothing else reported
    (a bug) is one redacted line and exit 1."""
    gc.disable()
    try:
        main()
    except SystemExit:
        raise
    except Exception as error:  # the last resort (see crash_report): no traceback, no secret reaches the user
        print(crash_report(error, Redactor()), file=sys.stderr)
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
