"""The token store provider: its two kinds, its read (one listing per kind) and its writes.

Token secrets are keyform's to make (`SecretSource.KEYFORM`): the store lets the client set them,
so keyform generates each one, writes it to the sink first and hands it to `apply_with_secret`.
"""

from __future__ import annotations

import logging
import string
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from keyform.contract import (
    JSON,
    Action,
    ApplyOutcome,
    Change,
    Finding,
    GeneratedSecret,
    Kind,
    LiveResource,
    Provider,
    Rotation,
    SecretInfo,
    SecretSource,
    SecretSpec,
    StaleChangeError,
)
from keyform.errors import ProviderError

MANAGED_BY = "keyform"
NAMES = {"pattern": "^[a-z0-9][a-z0-9-]*$"}
NAME_HINT = "is not a valid name: use lowercase letters, digits and '-'"
log = logging.getLogger("keyform.tokenstore")


def _team(spec: JSON) -> dict[str, Any]:
    return {"description": spec.get("description", "")}


def _team_export(attributes: JSON) -> dict[str, Any]:
    return {"description": attributes["description"]} if attributes["description"] else {}


def _token(spec: JSON) -> dict[str, Any]:
    return {"team": spec["team"], "scopes": sorted(set(spec.get("scopes", ())))}


def _token_export(attributes: JSON) -> dict[str, Any]:
    return {"team": attributes["team"], **({"scopes": attributes["scopes"]} if attributes["scopes"] else {})}


TEAMS = Kind(
    name="teams",
    noun="team",
    description="Teams that own tokens, by name.",
    schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"description": {"type": "string", "description": "What the team does."}},
    },
    names=NAMES,
    name_hint=NAME_HINT,
    canonical=_team,
    export=_team_export,
)
TOKENS = Kind(
    name="tokens",
    noun="token",
    description="Scoped service tokens, by name; keyform generates each token's secret.",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["team"],
        "properties": {
            "team": {"type": "string", "description": "The team that owns it (can't change: a new token)."},
            "scopes": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+:(read|write)$"}},
            "rotate_after": {"type": "string", "description": "Rotate the token's secret when it is this old."},
        },
    },
    names=NAMES,
    name_hint=NAME_HINT,
    canonical=_token,
    export=_token_export,
    references={"team": "teams"},
    immutable=frozenset({"team"}),
    grants=lambda attributes: frozenset(attributes["scopes"]),
    secret=SecretSpec(
        source=SecretSource.KEYFORM,
        rotation=Rotation.IMMEDIATE,
        noun="token",
        alphabet=string.ascii_letters + string.digits,
        length=40,
        field_name="token",
    ),
)
OPTIONS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "url", "token"],
    "properties": {
        "type": {"const": "tokenstore"},
        "url": {"type": "string", "description": "The token store, e.g. ${env:TOKENSTORE_URL}."},
        "token": {"type": "string", "description": "Its admin token: ${env:TOKENSTORE_TOKEN}."},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "concurrency": {"type": "integer", "minimum": 1},
    },
}


class Client:
    """JSON over one keep-alive session; counts its requests; errors are one line, never a secret."""

    def __init__(self, url: str, token: str, timeout: float):
        if not url.startswith(("http://", "https://")):
            raise ProviderError("provider.url must be an http(s) URL, e.g. ${env:TOKENSTORE_URL}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.sent = 0
        self._lock = threading.Lock()

    def call(self, method: str, path: str, what: str, *, etag: str | None = None, **kwargs: Any) -> Any:
        with self._lock:
            self.sent += 1
        headers = {"If-Match": etag} if etag else {}
        try:
            response = self.session.request(method, self.url + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise ProviderError(f"{what}: can't reach {self.url} ({type(error).__name__}): is it running?") from None
        log.info("%s %s -> %s", method, path, response.status_code)
        if response.status_code == 412:
            raise StaleChangeError(what, "it changed since the plan")
        if response.status_code >= 400:
            message = response.json().get("message", "") if response.content else ""
            raise ProviderError(f"{what}: {method} {path} failed with HTTP {response.status_code}: {message}")
        return response.json()

    def pages(self, kind: str, page_size: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            body = self.call("GET", f"/{kind}", kind, params={"limit": page_size, "cursor": cursor})
            items.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                return items


class TokenStoreProvider(Provider):
    kinds = (TEAMS, TOKENS)

    def __init__(self, options: Mapping[str, Any]):
        missing = [key for key in ("url", "token") if not options.get(key)]
        if missing:
            raise ProviderError(
                f"provider: tokenstore needs {' and '.join(missing)} (e.g. url: ${{env:TOKENSTORE_URL}})"
            )
        self.page_size = int(options.get("page_size", 100))
        self.client = Client(str(options["url"]), str(options["token"]), float(options.get("timeout", 10)))

    @classmethod
    def options_schema(cls) -> JSON:
        return OPTIONS

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        return {"url": "${env:TOKENSTORE_URL}", "token": "${env:TOKENSTORE_TOKEN}"}

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> TokenVerifier:
        return TokenVerifier(str(options["url"]))

    def describe(self) -> str:
        return self.client.url

    def requests_sent(self) -> int:
        return self.client.sent

    def close(self) -> None:
        self.client.session.close()

    def read(self) -> dict[str, LiveResource]:
        live = [self._live(TEAMS, item, _team(item)) for item in self.client.pages("teams", self.page_size)]
        for item in self.client.pages("tokens", self.page_size):
            secret = item.get("secret")
            secrets = (SecretInfo(secret["id"], datetime.fromisoformat(secret["created_at"])),) if secret else ()
            live.append(self._live(TOKENS, item, _token(item), secrets))
        return {resource.address: resource for resource in live}

    @staticmethod
    def _live(kind: Kind, item: JSON, attributes: dict[str, Any], secrets: tuple[SecretInfo, ...] = ()) -> LiveResource:
        managed = item.get("managed_by") == MANAGED_BY
        return LiveResource(kind.address(item["name"]), attributes, item["name"], item["etag"], managed, secrets)

    def generates_secret(self, change: Change) -> bool:
        return change.kind == "tokens" and change.action in (Action.CREATE, Action.REPLACE, Action.ROTATE)

    def apply(self, change: Change) -> ApplyOutcome:
        path = f"/{change.kind}/{change.name}"
        if change.action == Action.DELETE:
            self.client.call("DELETE", path, change.address, etag=change.etag)
            return ApplyOutcome()
        after = dict(change.after or {})
        if change.action == Action.CREATE:  # a team (a token's create carries its secret)
            item = self.client.call("POST", "/teams", change.address, json=self._body(change.name, after))
            return ApplyOutcome(etag=item["etag"])
        body = {**{k: v for k, v in after.items() if k != "team"}, "managed_by": MANAGED_BY}  # update, adopt
        item = self.client.call("PATCH", path, change.address, etag=change.etag, json=body)
        return ApplyOutcome(etag=item["etag"])

    def apply_with_secret(self, change: Change, secret: GeneratedSecret) -> ApplyOutcome:
        value = {"secret": secret.fields["token"], "secret_id": secret.secret_id}
        path = f"/tokens/{change.name}"
        if change.action == Action.ROTATE:
            item = self.client.call("PUT", f"{path}/secret", change.address, etag=change.etag, json=value)
            return ApplyOutcome(etag=item["etag"])
        if change.action == Action.REPLACE:
            self.client.call("DELETE", path, change.address, etag=change.etag)
        body = {**self._body(change.name, dict(change.after or {})), **value}
        item = self.client.call("POST", "/tokens", change.address, json=body)
        return ApplyOutcome(etag=item["etag"])

    @staticmethod
    def _body(name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, **attributes, "managed_by": MANAGED_BY}


class TokenVerifier:
    """`keyform verify`: the token authenticates as its own name and holds the declared scopes."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def check(self, address: str, entry: Any, state: Any, redactor: Any) -> Finding:
        token = entry.get("token") if isinstance(entry, Mapping) else None
        if not token:
            return Finding(address, False, "the sink entry has no token")
        try:
            response = self.session.get(f"{self.url}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        except requests.RequestException as error:
            return Finding(address, False, f"can't reach {self.url} ({type(error).__name__})")
        if response.status_code != 200:
            return Finding(address, False, f"the token is refused (HTTP {response.status_code})")
        body = response.json()
        wanted = state.resource_map.get(address, {}).get("scopes")
        if f"tokens/{body['token']}" != address or (wanted is not None and body["scopes"] != wanted):
            return Finding(address, False, f"the token is {body['token']} with scopes {body['scopes']}")
        return Finding(address, True, f"authenticates with scopes {', '.join(body['scopes']) or '(none)'}")

    def close(self) -> None:
        self.session.close()
