"""Whether a string is an absolute http(s) URL: the one rule `keyform validate` and the HTTP client share.

Standard library only, so that checking a desired state's URLs imports no HTTP client.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL with a host (None when it is one); never echoes it.

    The one rule for `provider.url`: `keyform validate` reports it with a position, the client
    refuses it at run time.
    """
    if any(not character.isprintable() or character.isspace() for character in value):
        return "it contains a space, newline or control character"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "its port is not a number from 1 to 65535"
    if not parts.scheme or "://" not in value:
        return "it has no scheme (http:// or https://)"
    if parts.scheme.lower() not in ("http", "https"):
        return f"its scheme {parts.scheme[:20]!r} is not http or https"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    return None
