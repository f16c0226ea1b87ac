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
SECRET_PREFIX = re.compile(r"kf[kst]_")
REFERENCE_START = "${env:"


def find_leaks(document: Document) -> list[Problem]:
    """Every secret-looking string (key or value) and every misplaced `${env:...}` in a file."""
    if _text_is_clean(document):
        return []
    problems = []
    for where, path, text in _strings(document.data, ()):
        if "kf" not in text and REFERENCE_START not in text:  # the common case, decided without a regex
            continue
        match = SECRET_LIKE.search(text)
        if match:
            problems.append(
                Problem(
                    _location(document, where),
                    f"this looks like a keyform secret ({match.group(1)}_...): never write"
                    " secrets in desired-state files (remove it, and rotate it if the file"
                    " was shared)",
                )
            )
        elif REFERENCE_START in text and not (document.is_root and path[:1] in _PLUGIN_PATHS):
            problems.append(
                Problem(
                    _location(document, where),
                    "${env:...} references are allowed only under provider: and secrets:",
                )
            )
    return problems


def _text_is_clean(document: Document) -> bool:
    """Whether the file's text alone shows there is nothing to find, without walking its strings.

    A string's characters all appear in the text, in order and unbroken (line folding only adds
    spaces), except through escapes, which need a backslash: so a text with no backslash, no
    secret prefix and no reference outside provider:/secrets: holds no string that has one.
    """
    text = document.text
    if not text or "\\" in text or SECRET_PREFIX.search(text):
        return False
    references = text.count(REFERENCE_START)
    if not references:
        return True
    if not document.is_root or not isinstance(document.data, dict):
        return False
    allowed = sum(
        found.count(REFERENCE_START)
        for section in PLUGIN_SECTIONS
        for _, _, found in _strings(document.data.get(section), (section,))
    )
    return references == allowed


def _location(document: Document, where: tuple[DataPath, bool]) -> Location:
    path, is_key = where
    return document.key_location(path) if is_key else document.value_location(path)


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
