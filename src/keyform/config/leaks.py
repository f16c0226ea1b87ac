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
from keyform.errors import Location, Problem

SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9_-])(kf[kst])_[A-Za-z0-9_-]{20,}")


def find_leaks(document: Document) -> list[Problem]:
    """Every secret-looking string (key or value) and every misplaced `${env:...}` in a file."""
    problems = []
    for at, path, text in _strings(document, document.data, ()):
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


def _strings(document: Document, value: Any, path: DataPath) -> Iterator[tuple[Location, DataPath, str]]:
    if isinstance(value, str):
        yield document.value_location(path), path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield document.key_location((*path, key)), path, key
            yield from _strings(document, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(document, item, (*path, index))
