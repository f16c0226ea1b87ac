"""One keep-alive HTTP session per run: timeouts, retries with backoff, errors that name the resource.

Retries use urllib3's `Retry` (exponential backoff with jitter, honours `Retry-After` on 429/503).
Every method may be retried because every POST keyform sends carries an `Idempotency-Key` and
every PATCH/DELETE an `If-Match`, so a replayed write can't apply twice.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

from keyform import __version__
from keyform.contract import UnreachableError
from keyform.errors import ProviderError
from keyform.urls import url_problem

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
URL_FORM = "e.g. https://credentials.example.com or http://127.0.0.1:8750"
TLS_HANDSHAKE_TIMEOUT = 5.0  # a TLS server answers a ClientHello at once; a plain-HTTP one never does
NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE")

log = logging.getLogger("keyform.http")


class ApiResponseError(ProviderError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int, code: str):
        super().__init__(message)
        self.status = status
        self.code = code


def checked_url(url: str) -> str:
    """`url` (provider.url) without surrounding whitespace; ProviderError naming the form it needs.

    The value itself is never shown: it may carry a user:password part.
    """
    url = url.strip()
    why = url_problem(url)
    if why is not None:
        raise ProviderError(f"provider.url is not an http(s) URL: {why} ({URL_FORM})")
    return url


def checked_token(token: str) -> str:
    """`token` (provider.token) without surrounding whitespace (a trailing newline from `$(cat file)`
    or a CI secret store); ProviderError, never showing the value, if whitespace or control characters
    are left inside it."""
    token = token.strip()
    if not token:
        raise ProviderError("provider.token is empty: set it to an Account Admin or Account Owner API key")
    if not token.isascii() or any(char.isspace() or not char.isprintable() for char in token):
        raise ProviderError(
            "provider.token contains a space, line break, control or non-ASCII character inside it: "
            "set it to the API key alone (the value is not shown)"
        )
    return token


def check_speaks_tls(url: str, timeout: float) -> None:
    """For an https `url`, complete a TLS handshake with its server (certificates are checked later,
    by the requests themselves); ProviderError at once if the server doesn't speak TLS there.

    A plain-HTTP server (keyform server among them) waits for an HTTP request and never answers the
    ClientHello: without this check every request would wait out its timeout, and its retries too.
    A refused or unknown host is left to the requests, which report it.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        raw = socket.create_connection((host, parts.port or 443), timeout=timeout)
    except OSError:
        return
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with raw:
        raw.settimeout(min(timeout, TLS_HANDSHAKE_TIMEOUT))
        try:
            context.wrap_socket(raw, server_hostname=host).close()
        except TimeoutError:
            failure = "the server never answered the TLS handshake"
        except ssl.SSLError as error:
            if error.reason not in NOT_TLS_REASONS:
                return  # a TLS server refusing something: the request reports it with its details
            failure = "the server answered the TLS handshake with something else (plain HTTP?)"
        except OSError:
            return
        else:
            return
    raise ProviderError(
        f"{sanitize_url(url)} doesn't speak TLS ({failure}): for a plain-HTTP server use http:// in "
        "provider.url, otherwise check the port"
    )


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
        self.base_url = checked_url(base_url).rstrip("/")
        self.timeout = (min(timeout, 10.0), timeout)
        self.session = retrying_session(self.base_url, retries=retries, pool_size=pool_size)
        self.session.headers.update(
            {"Authorization": f"Bearer {checked_token(token)}", "User-Agent": f"keyform/{__version__}"}
        )
        proxied = bool(self.session.proxies.get("https") or self.session.proxies.get("all"))
        self._tls_unchecked = self.base_url.startswith("https://") and not proxied
        self._tls_lock = threading.Lock()
        self._sent = 0  # requests sent (retries of one request count once)
        self._sent_lock = threading.Lock()

    @property
    def sent(self) -> int:
        """How many requests this client has sent."""
        return self._sent

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
        if self._tls_unchecked:
            self._check_tls()
        with self._sent_lock:
            self._sent += 1
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as error:
            raise self._failure(error, method, path, what) from None
        log.info(
            "%s %s -> %s (%.0f ms)",
            method,
            response.request.path_url,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        if response.status_code >= 400:
            raise _error(response, method, path, what)
        return response

    def _check_tls(self) -> None:
        with self._tls_lock:
            if self._tls_unchecked:
                check_speaks_tls(self.base_url, self.timeout[0])
                self._tls_unchecked = False

    def _failure(self, error: Exception, method: str, path: str, what: str) -> ProviderError:
        """The one-line error for a request that got no (whole) answer."""
        if isinstance(error, requests.exceptions.RetryError):
            return ProviderError(f"{what}: {method} {path} kept failing after retries ({_reason(error)})")
        if isinstance(error, requests.exceptions.SSLError):
            return ProviderError(
                f"{what}: TLS with {self.describe()} failed ({_reason(error)}): check provider.url and the CA bundle"
            )
        if isinstance(error, requests.exceptions.ConnectionError):
            reason = error.args[0] if error.args else None
            refused = isinstance(getattr(reason, "reason", reason), NewConnectionError)
            kind = UnreachableError if refused else ProviderError
            return kind(f"{what}: can't reach {self.describe()} ({_reason(error)}): is the credential API up?")
        if isinstance(error, requests.exceptions.Timeout):
            return ProviderError(f"{what}: {method} {path} timed out after {self.timeout[1]:g}s (provider.timeout)")
        if isinstance(error, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
            return ProviderError(
                f"{what}: {method} {path}: the answer from {self.describe()} was cut off ({_reason(error)}); "
                "run the command again"
            )
        return ProviderError(f"{what}: {method} {path} failed ({type(error).__name__}: {_reason(error)})")

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
    return " ".join(str(inner or reason).split(": ", 1)[-1].split())[:200]
