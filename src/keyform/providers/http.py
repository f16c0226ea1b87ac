"""One keep-alive HTTP session per run: timeouts, retries with backoff, errors that name the resource.

Retries use urllib3's `Retry` (exponential backoff with jitter, honours `Retry-After` on 429/503).
Every method may be retried because every POST keyform sends carries an `Idempotency-Key` and
every PATCH/DELETE an `If-Match`, so a replayed write can't apply twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from keyform import __version__
from keyform.errors import ProviderError

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


class ApiResponseError(ProviderError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int, code: str):
        super().__init__(message)
        self.status = status
        self.code = code


def sanitize_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the proxy and CA-bundle environment variables for `url` once, not on every request.

    requests re-reads them (and ~/.netrc, whose entry would replace the bearer token) per request:
    a walk over the whole environment each time, a visible share of a large apply's CPU.
    """
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.cert = settings["cert"]
    session.trust_env = False


def retrying_session(
    base_url: str, *, retries: int = 4, pool_size: int = 8, session: requests.Session | None = None
) -> requests.Session:
    """A keep-alive session for `base_url` that retries with exponential backoff and jitter, honouring
    Retry-After; the environment's proxy and CA settings for it are read once (`settle_environment`)."""
    session = session or requests.Session()
    settle_environment(session, base_url)
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.2,
        backoff_jitter=0.2,
        backoff_max=10,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ApiClient:
    """JSON over HTTP against one base URL with one bearer token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retries: int = 4, pool_size: int = 8):
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(timeout, 10.0), timeout)
        self.session = retrying_session(self.base_url, retries=retries, pool_size=pool_size)
        self.session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": f"keyform/{__version__}"})

    def describe(self) -> str:
        return sanitize_url(self.base_url)

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        if_match: str | None = None,
    ) -> requests.Response:
        """Send one request; raise ApiResponseError naming `what` (an address or a kind) on an error status."""
        headers = {}
        if if_match:
            headers["If-Match"] = if_match
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        try:
            response = self.session.request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.exceptions.RetryError as error:
            raise ProviderError(f"{what}: {method} {path} kept failing after retries ({_reason(error)})") from None
        except requests.exceptions.ConnectionError as error:
            raise ProviderError(
                f"{what}: can't reach {self.describe()} ({_reason(error)}): is the credential API up?"
            ) from None
        except requests.exceptions.Timeout:
            raise ProviderError(
                f"{what}: {method} {path} timed out after {self.timeout[1]:g}s (provider.timeout)"
            ) from None
        if response.status_code >= 400:
            raise _error(response, method, path, what)
        return response

    def request_json(self, method: str, path: str, *, what: str, **options: Any) -> Any:
        """Send one request (as `request`) and return its JSON body."""
        return json_body(self.request(method, path, what=what, **options), what)

    def paginate(self, path: str, *, what: str, page_size: int) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, one request per page."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            body = self.request_json("GET", path, what=what, params=params)
            yield from body["items"]
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def close(self) -> None:
        self.session.close()


def json_body(response: requests.Response, what: str) -> Any:
    """The response's JSON body (parsed by orjson: a third less CPU than requests' `.json()` on a
    large listing); ProviderError naming `what` if it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as error:
        request = response.request
        raise ProviderError(
            f"{what}: {request.method} {urlsplit(request.url or '').path} answered HTTP {response.status_code} "
            f"with a body that is not JSON ({error}): is provider.url the credential API?"
        ) from None


def _error(response: requests.Response, method: str, path: str, what: str) -> ApiResponseError:
    try:
        body = response.json()
        code, message = str(body.get("code", "")), str(body.get("message", ""))
    except ValueError:
        code, message = "", response.reason or ""
    hint = (
        " (check provider.token: it must be an Account Admin or Account Owner API key)"
        if response.status_code == 401
        else ""
    )
    text = (
        f"{what}: {method} {path} failed with HTTP {response.status_code}{f' {code}' if code else ''}: {message}{hint}"
    )
    return ApiResponseError(text, response.status_code, code)


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    inner = getattr(reason, "reason", None)
    return str(inner or reason).split(": ", 1)[-1][:200]
