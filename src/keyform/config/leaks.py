"""Scan every string of every file for secrets that must not be there.

A keyform secret (API key `kfk_`, client secret `kfs_`, access token `kft_`) pasted anywhere is
refused without echoing it; `${env:...}` references outside `provider:`/`secrets:` are refused
too (they are resolved nowhere else).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from keyform.config.document import DataPath, Document
from keyform.config.envref import PLUGIN_SECTIONS
from keyform.errors import Problem

SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9_-])(kf[kst])_[A-Za-z0-9_-]{20,}")


def find_leaks(document: Document) -> list[Problem]:
    """Every secret-looking string (key or value) and every misplaced `${env:...}` in a file."""
    problems = []
    for where, path, text in _strings(document.data, ()):
        if "kf" not in text and "${env:" not in text:  # the common case, decided without a regex
            continue
        at = document.key_location(where[0]) if where[1] else document.value_location(where[0])
        match = SECRET_LIKE.search(text)
        if match:
            problems.append(
                Problem(
                    at,
                    f"this looks like a keyform secret ({match.group(1)}_...): never write"
                    " secrets in desired-state files (remove it, and rotate it if the file"
                    " was shared)",
                )
            )
        elif "${env:" in text and not (document.is_root and path[:1] in _PLUGIN_PATHS):
            problems.append(
                Problem(
                    at,
                    "${env:...} references are allowed only under provider: and secrets:",
                )
            )
    return problems


_PLUGIN_PATHS = {(section,) for section in PLUGIN_SECTIONS}


def _strings(value: Any, path: DataPath) -> Iterator[tuple[tuple[DataPath, bool], DataPath, str]]:
    """Every string with ((its path, whether it is a key), its container's path, the text)."""
    if isinstance(value, str):
        yield (path, False), path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield ((*path, key), True), path, key
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
