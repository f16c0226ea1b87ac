"""The one place that knows every secret generated in this run, and scrubs them from text."""

from __future__ import annotations

import logging
import re
import threading

MASK = "<redacted>"
# Shapes of keyform API secrets, scrubbed even when this run didn't generate them, and wherever
# they start: glued to a preceding word too. Starting with the literal `kf` also lets the regex
# engine skip to candidates (a leading \b made it try every position: 0.5 s per 20 MB of plan).
_SECRET_SHAPE = re.compile(r"kf[kst]_[A-Za-z0-9_-]{20,}")


class Redactor:
    """Collects secret values and replaces them (and anything shaped like a keyform secret) in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        with self._lock:
            self._values.update(v for v in values if v)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, MASK)
        return _SECRET_SHAPE.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record's message through a Redactor."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact(record.getMessage())
        record.args = ()
        return True
