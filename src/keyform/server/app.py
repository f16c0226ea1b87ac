"""The WSGI application: routing, authentication, rate limit per caller, body checks, one transaction each."""

from __future__ import annotations

import copy
import functools
import logging
import re
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse

from keyform.server import credentials, data_api, idempotency, locks, org, roles, users
from keyform.server.auth import Principal, authenticate, check_api_access, require_manager
from keyform.server.context import Context, Route, Stats
from keyform.server.errors import ApiError, ServerError
from keyform.server.ratelimit import ANONYMOUS, RateLimiter
from keyform.server.storage import Transaction, describe, open_storage
from keyform.server.tokens import now
from keyform.server.validation import validate_body
from keyform.server.web import MAX_BODY, Request, Response, too_large

log = logging.getLogger("keyform.server")

ROUTES: list[Route] = [
    *org.ROUTES,
    *users.ROUTES,
    *roles.ROUTES,
    *credentials.ROUTES,
    *data_api.ROUTES,
    *locks.ROUTES,
]


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


class CredentialApp:
    """The credential API as a WSGI callable; `close()` releases the database."""

    def __init__(self, db_path: str | Path, *, rate_limit: float | None = None, stats: Stats | None = None):
        self.storage = open_storage(db_path)
        with self.storage.transaction(write=False) as tx:
            initialised = tx.organization() is not None
        if not initialised:
            self.storage.close()
            raise ServerError(
                f"database {describe(str(db_path))} has no organisation yet; "
                "start once with --init-owner EMAIL --token-file FILE"
            )
        self.stats = stats or Stats()
        self.rate_limit = rate_limit
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.routes = [(_compile(route.template), route) for route in ROUTES]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.stats.count_request()
        try:
            response = self.handle(Request.from_environ(environ))
        except ApiError as error:
            response = Response(error.status, error.body(), headers=error.headers)
        except Exception as error:  # the one catch-all: a bug must not leak data or kill the worker
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("internal error (%s); traceback:\n%s", type(error).__name__, frames)
            message = "the server failed unexpectedly; nothing was changed, retry or report it"
            response = Response(500, {"code": "internal_error", "message": message})
        status, headers, payload = response.encode()
        start_response(status, headers)
        return [payload]

    def match(self, request: Request) -> tuple[Route, dict[str, str]]:
        allowed = []
        for pattern, route in self.routes:
            found = pattern.match(request.path)
            if found and route.method == request.method:
                return route, found.groupdict()
            if found:
                allowed.append(route.method)
        if allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ApiError(404, "not_found", f"no such endpoint {request.path}; see /v1/openapi.yaml")

    def check_rate(self, caller: str) -> None:
        """429 when `caller` (a principal or ANONYMOUS) has used up its requests per second."""
        if self.limiter is None or not (wait := self.limiter.take(caller)):
            return
        who = "unauthenticated requests" if caller == ANONYMOUS else "this API key or token"
        raise ApiError(
            429,
            "rate_limited",
            f"over {self.rate_limit:g} requests per second for {who}; retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def authenticate(self, tx: Transaction, request: Request, now_ts: float) -> Principal:
        """The caller, charged to its own bucket; a failed attempt is charged to the anonymous one."""
        try:
            principal = authenticate(tx, request.header("Authorization"), now_ts)
        except ApiError:
            self.check_rate(ANONYMOUS)
            raise
        self.check_rate(f"{principal.type}:{principal.id}")
        return principal

    def handle(self, request: Request) -> Response:
        try:
            route, params = self.match(request)
        except ApiError:
            self.check_rate(ANONYMOUS)
            raise
        if route.access == "public":
            self.check_rate(ANONYMOUS)
        if route.body and request.content_length() > MAX_BODY:
            raise too_large()
        body = functools.cache(lambda: request.json_body(form_ok=route.form_ok))  # read once, parsed on demand
        return self.storage.run(lambda tx: self.transact(tx, request, route, params, body), write=route.write)

    def transact(
        self,
        tx: Transaction,
        request: Request,
        route: Route,
        params: dict[str, str],
        body: Callable[[], dict[str, Any]],
    ) -> Response:
        """The request inside its transaction (which a replicated backend may run again on a conflict)."""
        ctx = Context(request, tx, None, params, now(), self.stats)
        if route.access != "public":
            ctx.principal = self.authenticate(tx, request, ctx.now_ts)
            organization = tx.organization()
            assert organization is not None, "checked at start"
            check_api_access(organization, ctx.principal, route.access == "manage")
            if route.access == "manage":
                require_manager(ctx.principal)
        if route.body:
            ctx.body = copy.deepcopy(body())  # a fresh copy for each run of the transaction
            validate_body(route.body, ctx.body)
        key = idempotency.idempotency_key(request) if route.method == "POST" else None
        if key is None or ctx.principal is None:
            return route.handler(ctx)
        scope = f"{ctx.principal.type}:{ctx.principal.id}"
        fingerprint = idempotency.fingerprint(request, ctx.body)
        replayed = idempotency.replay(tx, scope, key, fingerprint)
        if replayed is not None:
            return replayed
        response = route.handler(ctx)
        idempotency.remember(tx, scope, key, fingerprint, response, ctx.now_ts)
        return response

    def close(self) -> None:
        self.storage.close()


def create_app(db_path: str | Path, *, rate_limit: float | None = None) -> CredentialApp:
    """The WSGI application for an initialised database (see `runner.init_organization`)."""
    return CredentialApp(db_path, rate_limit=rate_limit)
