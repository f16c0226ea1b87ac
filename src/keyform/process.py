"""The `keyform` command as a process: the last-resort handler, and the two process-wide
settings a short-lived command can afford and a library caller can't.

- The cyclic garbage collector is off. Loading and planning build hundreds of thousands of
  small objects (the desired and the live state) that no cycle holds and that live until the
  command ends; the collector would scan them again and again while they are built. Reference
  counting still frees everything that is not in a cycle.
- Threads switch every millisecond instead of every 5: the live read (a thread waiting on the
  API) takes each response as it arrives instead of waiting for the loader to let go.

Each stays because bench/ showed it saves more than 5% of a no-op plan at N = 10,000 (issue 16;
the figures are in bench/README.md). A library caller keeps its collector and switch interval:
only `run_command` changes them.
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
    sys.setswitchinterval(0.001)
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
