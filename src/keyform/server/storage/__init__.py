"""The server's storage: every SQL statement lives in this package, behind one interface.

`open_storage(target)` opens a SQLite file (the default, one server process) or, for a
`postgresql://` URL, a PostgreSQL database that several server processes share. Both hand out the
same `Transaction` (base.py), whose statements are written once for both backends.
"""

from __future__ import annotations

from pathlib import Path

from keyform.server.errors import ServerError
from keyform.server.storage.base import Storage, Transaction
from keyform.server.storage.urls import describe, is_postgresql, is_url, redact_url

__all__ = ["Storage", "Transaction", "describe", "is_postgresql", "open_storage", "redact_url"]


def open_storage(target: str | Path) -> Storage:
    """The database `target` names (a SQLite file path or a postgresql:// URL), with its schema in place."""
    text = str(target)
    if is_postgresql(text):
        from keyform.server.storage.postgresql import PostgresStorage

        return PostgresStorage(text)
    if is_url(text):
        raise ServerError(
            f"--db {describe(text)}: unsupported database URL; give a SQLite file path or a postgresql:// URL"
        )
    from keyform.server.storage.sqlite import SqliteStorage

    return SqliteStorage(target)
