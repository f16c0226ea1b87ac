"""Logging for the CLI: one stderr handler, every record through the run's redactor, text or JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from keyform.secrets.redaction import RedactingFilter, Redactor

# keyform's own records; urllib3's retries; the server's HTTP layer (waitress) and database pool (psycopg)
LOGGERS = ("keyform", "urllib3", "waitress", "psycopg")


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when the record is emitted (it may be swapped, e.g. in tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream: that flushes the previous stream, which may be closed
        super().emit(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": datetime.fromtimestamp(record.created, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def configure_logging(redactor: Redactor, *, log_format: str = "text", verbose: bool = False) -> None:
    """Send keyform's records (warnings, or info with --verbose: each request) to stderr, redacted.

    urllib3's retry warnings only with --verbose: without it, a request that fails after its
    retries is reported once, as one error line, not preceded by a warning per retry. `keyform
    server`'s libraries (waitress, psycopg's pool) log through the same handler, so their warnings
    read like keyform's and are redacted too.
    """
    handler = StderrHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter("keyform: %(levelname)s: %(message)s")
    )
    quiet = dict.fromkeys(LOGGERS, logging.WARNING) | {"urllib3": logging.ERROR}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO if verbose else quiet[name])
        logger.propagate = False
