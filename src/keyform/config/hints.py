"""Small helpers for messages: did-you-mean suggestions and human lists."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or "" when none is close."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def one_of(values: Iterable[str]) -> str:
    """`a, b or c`."""
    items = list(values)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def quote(text: object, limit: int = 60) -> str:
    """`text` in single quotes for a one-line message: shortened, control characters escaped."""
    shown = str(text)
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    if shown.isprintable() and "'" not in shown:
        return f"'{shown}'"
    return repr(shown)


def printable(text: str) -> str:
    """`text` with control characters (newlines...) escaped, so a message stays one line."""
    return text if text.isprintable() else repr(text)[1:-1]
