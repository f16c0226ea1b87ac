"""The few HTTP calls `keyform verify` makes to a vendor's API for the manual providers
(Personio, Predictive Index): one retrying session, answers reduced to what verify needs.

Bodies are parsed only to pick out an error text or a token, and the callers drop them at once:
employee data a read returns is never printed, logged or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import requests

from keyform.errors import ProviderError
from keyform.providers.http import checked_url, retrying_session, sanitize_url

RETRIES = 3  # 429 (Retry-After honoured) and 5xx are retried this often before verify reports them


class Answer(NamedTuple):
    """A response's status, its error text (from the common error shapes) and its JSON body."""

    status: int
    error: str
    body: Any


class VendorApi:
    """Requests against one base URL (the `api_url` option), each failure a one-line ProviderError."""

    def __init__(self, api_url: str, title: str, timeout: float = 30.0, session: requests.Session | None = None):
        self.url = checked_url(api_url).rstrip("/")
        self.title = title
        self.timeout = (min(timeout, 10.0), timeout)
        self._owned = session is None
        self.session = retrying_session(self.url, retries=RETRIES, session=session)

    def call(self, address: str, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as error:
            raise ProviderError(
                f"{address}: {method} {path.partition('?')[0]} on {sanitize_url(self.url)} failed "
                f"({type(error).__name__}): is {self.title} reachable? (provider.api_url)"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, error_text(body) if response.status_code >= 400 else "", body)

    def close(self) -> None:
        if self._owned:
            self.session.close()


def error_text(body: Any) -> str:
    """The error's words from the shapes vendors use: OAuth (`error`, `error_description`),
    Personio v1 (`error.message`), Personio v2 (`errors[].title`), PI (`description`)."""
    if not isinstance(body, Mapping):
        return ""
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, Mapping):
        parts.append(str(error.get("message") or ""))
    elif error:
        parts.append(str(error))
    parts.append(str(body.get("error_description") or ""))
    errors = body.get("errors")
    if isinstance(errors, list):
        parts.extend(str(item.get("title") or "") for item in errors if isinstance(item, Mapping))
    parts.append(str(body.get("description") or ""))
    return "; ".join(part for part in parts if part)[:200]


def status_problem(answer: Answer, title: str) -> str:
    """The words for an answer verify can't judge a credential by (rate limited, server error)."""
    if answer.status == 429:
        return (
            f"{title} rate-limited the check (HTTP 429) after {RETRIES} retries: run keyform verify again in a minute"
        )
    if answer.status >= 500:
        return f"{title} answered HTTP {answer.status} after {RETRIES} retries: nothing was checked; try again later"
    return ""
