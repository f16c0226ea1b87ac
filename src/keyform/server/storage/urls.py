"""Database URLs: which backend a `--db` value names, and how to show one without its password.

A password can sit in the URL's user info (`postgresql://user:PASSWORD@host/db`) or in its query
(`?password=PASSWORD`); both are replaced by `<hidden>` wherever keyform shows or logs a URL, and
any text that may echo it (libpq's error messages do) is scrubbed first. The pattern follows
twine's `sanitize_url`; parsing is by hand so that even a malformed URL is redacted.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "<hidden>"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def is_url(target: str) -> bool:
    return bool(_SCHEME.match(target))


def is_postgresql(target: str) -> bool:
    return target.lower().startswith(POSTGRESQL_SCHEMES)


def _user_info(url: str) -> tuple[int, int] | None:
    """(start, end) of the `user[:password]` part of a URL, or None."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    start = scheme.end()
    before_query = url[start:].split("?", 1)[0]
    at = before_query.rfind("@")
    return (start, start + at) if at >= 0 else None


def _passwords(url: str) -> list[str]:
    """Every form of the password the URL holds (as written and percent-decoded), longest first."""
    found: list[str] = []
    span = _user_info(url)
    if span is not None:
        user_info = url[span[0] : span[1]]
        if ":" in user_info:
            found.append(user_info.split(":", 1)[1])
    found += [match.group(2) for match in _QUERY_PASSWORD.finditer(url)]
    forms = {form for password in found for form in (password, unquote(password)) if form}
    return sorted(forms, key=len, reverse=True)


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by `<hidden>`; other text is returned unchanged."""
    if not is_url(url):
        return url
    redacted = _QUERY_PASSWORD.sub(lambda match: match.group(1) + HIDDEN, url)
    span = _user_info(redacted)
    if span is not None:
        user_info = redacted[span[0] : span[1]]
        if ":" in user_info:
            user = user_info.split(":", 1)[0]
            redacted = f"{redacted[: span[0]]}{user}:{HIDDEN}{redacted[span[1] :]}"
    return redacted


def scrub(text: str, url: str) -> str:
    """`text` with the URL and every form of its password replaced (for messages that may echo them)."""
    text = text.replace(url, redact_url(url))
    for password in _passwords(url):
        text = text.replace(password, HIDDEN)
    return text


def describe(target: str) -> str:
    """How messages name a database: a file path as given, a URL without its password."""
    return redact_url(target)
