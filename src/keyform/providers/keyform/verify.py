"""How the keyform provider verifies a delivered secret (`keyform verify`, see keyform.verify).

Every access token the API hands out is added to the run's redactor before it is used.

Per address: an API key calls `GET /v1/whoami` with it; client credentials first exchange
(`POST /v1/oauth/token`, grant_type client_credentials), then call whoami with the access token.
The answer is compared with the desired state:

- a credential: its own permissions and attributes united with those of its roles;
- a standard user's key: the union of the user's roles, plus the user's cognitive_access;
- an account_admin/account_owner key: only the org role (they reach every module by definition).

A secret declared not to work (disabled key or credential, archived user, api_access false) is ok
when the API refuses it and a finding when it still works. An address no longer declared is always
a finding. Grants are named `module:level`, `attribute:NAME` and `cognitive_access`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from keyform.contract import Finding
from keyform.errors import ProviderError
from keyform.model import DesiredState
from keyform.providers.http import retrying_session, sanitize_url
from keyform.secrets.redaction import Redactor


@dataclass(frozen=True)
class Expectation:
    """What the secret of one address should do, according to the desired state."""

    principal: str  # "api_key" | "credential"
    name: str
    refused_because: str = ""  # non-empty: declared not to work, and why
    role: str | None = None
    grants: frozenset[str] | None = None  # None: not compared (account admins and owners)


def expectation(state: DesiredState, address: str) -> Expectation | None:
    """What the desired state says the secret at `address` may do; None if it is not declared."""
    kind, _, name = address.partition("/")
    organization = state.of("organization").get("organization") or {}
    api_off = "organization.api_access is declared false" if organization.get("api_access") is False else ""
    if kind == "users":
        user = state.of("users").get(name.lower())
        if user is None:
            return None
        refused = api_off
        if user.get("api_key_enabled") is False:
            refused = "the API key is declared disabled"
        if user["archived"]:
            refused = "the user is declared archived"
        if user["role"] != "standard":
            return Expectation("api_key", name.lower(), refused, user["role"], None)
        grants = _grants(_roles_scopes(state, user["roles"])) | (
            {"cognitive_access"} if user["cognitive_access"] else set()
        )
        return Expectation("api_key", name.lower(), refused, user["role"], frozenset(grants))
    if kind == "credentials":
        credential = state.of("credentials").get(name)
        if credential is None:
            return None
        refused = "the credential is declared disabled" if not credential["enabled"] else api_off
        scopes = [(credential["permissions"], credential["attributes"]), *_roles_scopes(state, credential["roles"])]
        return Expectation("credential", name, refused, None, frozenset(_grants(scopes)))
    return None


class KeyformVerifier:
    """Checks secrets against the keyform server: whoami with the key, or with the token that
    client credentials exchange for, compared with what the desired state declares."""

    def __init__(self, options: Mapping[str, Any], session: requests.Session | None = None):
        if not options.get("url"):
            raise ProviderError("keyform verify needs provider.url (the keyform server to verify against)")
        self.api = _Api(str(options["url"]), float(options.get("timeout", 30)), session)

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        return _check(self.api, address, entry, expectation(state, address), redactor)

    def close(self) -> None:
        self.api.close()


def _check(api: _Api, address: str, entry: Any, expected: Expectation | None, redactor: Redactor) -> Finding:
    kind = address.partition("/")[0]
    wanted = {"users": ("api_key", ("api_key",)), "credentials": ("client_credentials", ("client_id", "client_secret"))}
    shape = wanted.get(kind)
    if shape is None:
        return Finding(address, False, "not a users/ or credentials/ address: keyform never delivers secrets for it")
    if not isinstance(entry, Mapping) or entry.get("type") != shape[0]:
        return Finding(address, False, f"malformed sink entry: expected type {shape[0]} for {kind}")
    if not all(isinstance(entry.get(k), str) and entry.get(k) for k in shape[1]):
        return Finding(address, False, f"malformed sink entry: it needs {' and '.join(shape[1])}")
    status, code, whoami = api.whoami(address, entry, redactor)
    works = status == 200
    if expected is None:
        if works:
            message = "but the secret still authenticates: revoke it and remove it from the sink"
        else:
            message = f"(the secret no longer authenticates, HTTP {status}): remove it from the sink"
        return Finding(address, False, f"no longer declared in the desired state {message}")
    if expected.refused_because:
        if works:
            return Finding(
                address, False, f"still authenticates although {expected.refused_because}: run keyform apply"
            )
        if status == 401 or code == "api_access_disabled":
            return Finding(address, True, f"refused as declared ({expected.refused_because})")
    if not works:
        return Finding(address, False, _refusal(status, code))
    return _compare(address, expected, whoami)


def _compare(address: str, expected: Expectation, whoami: Mapping[str, Any]) -> Finding:
    principal = whoami.get("principal") or {}
    if principal.get("type") != expected.principal or str(principal.get("name", "")).lower() != expected.name.lower():
        return Finding(
            address, False, f"authenticates as {principal.get('type')} {principal.get('name')!r}, not as {address}"
        )
    if whoami.get("role") != expected.role:
        return Finding(address, False, f"org role is {whoami.get('role')}, declared {expected.role}")
    if expected.grants is None:
        return Finding(address, True, f"{expected.role}: role checked (admins reach every module)")
    actual = _grants([(whoami.get("permissions") or {}, whoami.get("attributes") or ())])
    if whoami.get("cognitive_access"):
        actual.add("cognitive_access")
    missing, extra = sorted(expected.grants - actual), sorted(actual - expected.grants)
    if not missing and not extra:
        return Finding(address, True, f"{len(actual)} grant(s) as declared")
    parts = [f"missing {', '.join(missing)}" if missing else "", f"extra {', '.join(extra)}" if extra else ""]
    drift = "; ".join(p for p in parts if p)
    return Finding(address, False, f"wrong scopes: {drift} (run keyform plan to see the drift)")


def _refusal(status: int, code: str) -> str:
    if status == 401:
        return "refused with HTTP 401 unauthorized: the secret was revoked, replaced or disabled (keyform rotate ADDR)"
    if code == "api_access_disabled":
        return "refused with HTTP 403 api_access_disabled: API access is off for the organisation"
    return f"unexpected HTTP {status}{f' {code}' if code else ''} from the API"


def _roles_scopes(state: DesiredState, names: Iterable[str]) -> list[tuple[Mapping[str, Any], Iterable[str]]]:
    roles = state.of("roles")
    return [(roles[n]["permissions"], roles[n]["attributes"]) for n in names if n in roles]


def _grants(scopes: Iterable[tuple[Mapping[str, Any], Iterable[str]]]) -> set[str]:
    grants: set[str] = set()
    for permissions, attributes in scopes:
        grants.update(f"{module}:{level}" for module, levels in permissions.items() for level in levels)
        grants.update(f"attribute:{name}" for name in attributes)
    return grants


class _Api:
    """The few calls verify makes, each with the secret under test as its bearer."""

    def __init__(self, url: str, timeout: float, session: requests.Session | None):
        self.url = url.rstrip("/")
        self.timeout = (min(timeout, 10.0), timeout)
        self._owned = session is None
        self.session = retrying_session(self.url, retries=3, session=session)

    def whoami(self, address: str, entry: Mapping[str, Any], redactor: Redactor) -> tuple[int, str, dict[str, Any]]:
        """(status, error code, whoami body) for the entry's secret."""
        token = entry.get("api_key")
        if entry["type"] == "client_credentials":
            body = {"grant_type": "client_credentials", "client_id": entry["client_id"]}
            body["client_secret"] = entry["client_secret"]
            status, code, answer = self._call(address, "POST", "/v1/oauth/token", json=body)
            if status != 200:
                return status, code, {}
            token = str(answer.get("access_token") or "")
            redactor.add(token)
        return self._call(address, "GET", "/v1/whoami", headers={"Authorization": f"Bearer {token}"})

    def _call(self, address: str, method: str, path: str, **kwargs: Any) -> tuple[int, str, dict[str, Any]]:
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.exceptions.RequestException as error:
            raise ProviderError(
                f"{address}: {method} {path} on {sanitize_url(self.url)} failed ({type(error).__name__}): "
                "is the credential API up? (provider.url)"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = str(body.get("code", "")) if response.status_code >= 400 else ""
        return response.status_code, code, body

    def close(self) -> None:
        if self._owned:
            self.session.close()
