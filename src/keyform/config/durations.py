"""Durations as written in the desired state: a whole number and a unit (`90d`, `24h`)."""

from __future__ import annotations

import re
from datetime import timedelta

from keyform.config.hints import quote

DURATION = re.compile(r"([0-9]+)([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_DAYS = 100 * 366  # anything longer is a typo


def parse_duration(text: str) -> timedelta:
    """`90d` -> timedelta(days=90); ValueError (with a message fit for users) otherwise."""
    match = DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{quote(text)} is not a duration: use a whole number and a unit (s, m, h, d or w), e.g. 90d")
    number, unit = match.groups()
    too_long = ValueError(f"{quote(text)} is too long (at most 100 years)")
    if len(number.lstrip("0")) > 12:
        raise too_long
    try:
        value = timedelta(**{UNITS[unit]: int(number.lstrip("0") or "0")})
    except OverflowError:
        raise too_long from None
    if value <= timedelta(0):
        raise ValueError(f"{quote(text)} must be longer than zero")
    if value > timedelta(days=MAX_DAYS):
        raise too_long
    return value
