"""`keyform verify`: prove each secret in the sink authenticates and grants what the desired state declares.

Only sinks keyform can read back are verified: `file`, and `age` with `identity_file`; any other
sink is a SecretSinkError naming its type. Every secret read is added to the run's redactor before
the first request, and so is every access token the API hands out.

Per address: an API key calls `GET /v1/whoami` with it; client credentials first exchange
(`POST /v1/oauth/token`, grant_type client_credentials), then call whoami with the access token.
The answer is compared with the desired state:

- a credential: its own permissions and attributes united with those of its roles;
- a standard user's key: the union of the user's roles, plus the user's cognitive_access;
- an account_admin/account_owner key: only the org role (they reach every module by definition).

A secret declared not to work (disabled key or credential, archived user, api_access false) is ok
when the API refuses it and a finding when it still works. An address no longer declared is a
finding, unless its entry is retired (apply deleted the resource and dropped the secret): retired
entries are reported, not checked. Grants are named `module:level`, `attribute:NAME` and
`cognitive_access`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import requests

from keyform.errors import ProviderError, SecretSinkError
from keyform.model import DesiredState
from keyform.providers.http import retrying_session, sanitize_url
from keyform.secrets.base import SecretSink
from keyform.secrets.redaction import Redactor

SECRET_FIELDS = ("api_key", "client_secret")


@runtime_checkable
class ReadableSink(Protocol):
    def read(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Expectation:
    """What the secret of one address should do, according to the desired state."""

    principal: str  # "api_key" | "credential"
    name: str
    refused_because: str = ""  # non-empty: declared not to work, and why
    role: str | None = None
    grants: frozenset[str] | None = None  # None: not compared (account admins and owners)


@dataclass(frozen=True)
class Finding:
    """The verdict on one address."""

    address: str
    ok: bool
    message: str
    retired: bool = False  # the resource was deleted and its entry retired: nothing to check

    def __str__(self) -> str:
        return f"{'skip' if self.retired else 'ok  ' if self.ok else 'FAIL'} {self.address}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    findings: tuple[Finding, ...]
    sink: str

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def summary(self) -> str:
        if not self.findings:
            return f"No secrets to verify in {self.sink}."
        retired = sum(1 for f in self.findings if f.retired)
        failed = sum(1 for f in self.findings if not f.ok)
        checked = len(self.findings) - retired
        summary = f"Verified {checked} secret(s) from {self.sink}: {checked - failed} ok, {failed} failed"
        return summary + (f"; {retired} retired (deleted, not checked)." if retired else ".")


def read_sink(sink: SecretSink, sink_type: str) -> dict[str, Any]:
    """The sink's document by address; SecretSinkError for sinks keyform can't read back."""
    if not isinstance(sink, ReadableSink):
        raise SecretSinkError(
            f"secrets.type {sink_type} can't be read back, so keyform verify skipped it: "
            "verify works with the file sink and the age sink with identity_file"
        )
    return sink.read()


def secret_values(document: Mapping[str, Any]) -> list[str]:
    """Every secret value in a sink document, retiring ones included (for the redactor)."""
    values: list[str] = []
    for entry in document.values():
        for part in (entry, entry.get("retiring") if isinstance(entry, Mapping) else None):
            if isinstance(part, Mapping):
                values.extend(str(part[k]) for k in SECRET_FIELDS if part.get(k))
    return values


def expectation(state: DesiredState, address: str) -> Expectation | None:
    """What the desired state says the secret at `address` may do; None if it is not declared."""
    kind, _, name = address.partition("/")
    api_off = "organization.api_access is declared false" if state.organization.api_access is False else ""
    if kind == "users":
        user = state.users.get(name.lower())
        if user is None:
            return None
        refused = api_off
        if user.api_key is not None and not user.api_key.enabled:
            refused = "the API key is declared disabled"
        if user.archived:
            refused = "the user is declared archived"
        if user.role != "standard":
            return Expectation("api_key", name.lower(), refused, user.role, None)
        grants = _grants(_roles_scopes(state, user.roles)) | ({"cognitive_access"} if user.cognitive_access else set())
        return Expectation("api_key", name.lower(), refused, user.role, frozenset(grants))
    if kind == "credentials":
        credential = state.credentials.get(name)
        if credential is None:
            return None
        refused = "the credential is declared disabled" if not credential.enabled else api_off
        scopes = [(credential.permissions, credential.attributes), *_roles_scopes(state, credential.roles)]
        return Expectation("credential", name, refused, None, frozenset(_grants(scopes)))
    return None


def verify(
    state: DesiredState,
    document: Mapping[str, Any],
    redactor: Redactor,
    *,
    session: requests.Session | None = None,
    addresses: Collection[str] = (),
    sink: str = "the sink",
) -> VerifyReport:
    """Check every entry of `document` (or only `addresses`) against the API of `state.provider`."""
    redactor.add(*secret_values(document))
    if state.provider.type != "keyform" or not state.provider.options.get("url"):
        raise ProviderError(
            f"keyform verify needs provider.type keyform with a url (found type {state.provider.type!r})"
        )
    api = _Api(str(state.provider.options["url"]), float(state.provider.options.get("timeout", 30)), session)
    findings = []
    try:
        for address in sorted(addresses or document):
            entry = document.get(address)
            if entry is None:
                findings.append(Finding(address, False, f"no secret for it in {sink}"))
                continue
            if isinstance(entry, Mapping) and entry.get("retired_at"):
                message = f"retired {entry['retired_at']}: apply deleted it, and its secret with it"
                findings.append(Finding(address, True, message, retired=True))
                continue
            findings.append(_check(api, address, entry, expectation(state, address), redactor))
    finally:
        api.close()
    return VerifyReport(tuple(findings), sink)


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
    return [(state.roles[n].permissions, state.roles[n].attributes) for n in names if n in state.roles]


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
