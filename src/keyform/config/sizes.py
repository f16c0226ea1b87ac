"""How large one desired-state file may be: 5 MiB unless raised, and sizes as written (`20MiB`).

The root file's own size is checked before anything in it is read, so only the runner can raise
its limit (KEYFORM_MAX_FILE_SIZE); `max_file_size:` in the root file raises it for included files.
"""

from __future__ import annotations

import re

from keyform.config.hints import quote

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
LIMIT_MAX_BYTES = 1024**3  # 1 GiB: a larger limit is a typo
ENV_NAME = "KEYFORM_MAX_FILE_SIZE"
SIZE_PATTERN = "^[0-9]{1,10}(KiB|MiB|GiB)$"
_SIZE = re.compile(r"([0-9]{1,10})(KiB|MiB|GiB)")
_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def parse_size(text: str) -> int:
    """`20MiB` -> 20971520; ValueError with a message fit for users otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{quote(text)} is not a size: use a whole number and KiB, MiB or GiB, e.g. 20MiB")
    size = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < size <= LIMIT_MAX_BYTES:
        raise ValueError(f"{quote(text)} must be more than 0 and at most 1GiB")
    return size


def format_size(size: int) -> str:
    """5242880 -> `5MiB` (whole units when they fit, else bytes)."""
    for unit in ("GiB", "MiB", "KiB"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return f"{size} bytes"


def suggested(size: int) -> str:
    """A limit that holds a file of `size` bytes, in MiB, for hints."""
    return f"{max(size // _UNITS['MiB'] + 1, DEFAULT_MAX_BYTES // _UNITS['MiB'] * 2)}MiB"
