"""`keyform verify` for Personio credentials, over Personio's documented authentication API.

Per sink entry (a client id and secret):

1. exchange them for a token: v2 `POST /v2/auth/token` (grant_type=client_credentials and the
   scopes the declared permissions need; "Invalid Scope" means the credential lacks one), or v1
   `POST /v1/auth` with `auth: v1`. The auth endpoint allows 60 requests a minute: a 429 is
   retried after its Retry-After;
2. one minimal read (`limit=1`) per module the YAML grants read access to: a 403 "Insufficient
   access scope" means the permission is missing;
3. from the employees read, the names of the fields one employee record carries, compared with
   the declared attribute allow-list (an undeclared one is an escalation). The values are never
   looked at beyond their names, printed or stored;
4. the v2 token is revoked (`POST /v2/auth/revoke`).

Write access can't be proved without writing; it is checked through the token's scopes (v2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from keyform.contract import Finding
from keyform.errors import ProviderError
from keyform.model import DesiredState
from keyform.providers.personio.kinds import DEFAULT_API_URL
from keyform.providers.vendor_http import Answer, VendorApi, status_problem
from keyform.secrets.redaction import Redactor

TITLE = "Personio"
# module -> the v2 scope prefix its permission grants (scope = f"{prefix}:{level}")
SCOPES = {
    "employees": "personio:persons",
    "attendances": "personio:attendances",
    "absences": "personio:absences",
    "documents": "personio:document-management",
    "custom_reports": "personio:reports",
}
# module -> the smallest documented v1 read that needs the module's read permission
PROBES = {
    "employees": "/v1/company/employees?limit=1",
    "attendances": "/v1/company/attendances?limit=1&start_date={today}&end_date={today}",
    "absences": "/v1/company/time-offs?limit=1",
    "documents": "/v1/company/document-categories",
    "custom_reports": "/v1/company/custom-reports/reports?limit=1",
}
ALWAYS_RETURNED = frozenset({"id"})  # fields every employee record has, whatever the allow-list


class PersonioVerifier:
    """Checks each sink entry's client id and secret against Personio (see the module docstring)."""

    def __init__(self, options: Mapping[str, Any], session: requests.Session | None = None):
        self.auth = str(options.get("auth", "v2"))
        if self.auth not in ("v1", "v2"):
            raise ProviderError(f"provider.auth is {self.auth!r}: use v2 (default) or v1")
        self.api = VendorApi(
            str(options.get("api_url") or DEFAULT_API_URL), TITLE, float(options.get("timeout", 30)), session
        )

    def close(self) -> None:
        self.api.close()

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        kind, _, name = address.partition("/")
        if kind != "credentials":
            return Finding(address, False, "not a credentials/ address: keyform never delivers secrets for it")
        if not isinstance(entry, Mapping) or not all(
            isinstance(entry.get(k), str) and entry.get(k) for k in ("client_id", "client_secret")
        ):
            return Finding(address, False, "malformed sink entry: it needs client_id and client_secret")
        declared = state.of("credentials").get(name)
        permissions = (declared or {}).get("permissions") or {}
        scopes = sorted(f"{SCOPES[m]}:{level}" for m, levels in permissions.items() if m in SCOPES for level in levels)
        answer, token = self._token(address, entry, scopes if declared and declared["enabled"] else [], redactor)
        try:
            return self._judge(address, declared, answer, token)
        finally:
            if token and self.auth == "v2":
                self.api.call(address, "POST", "/v2/auth/revoke", data={"token": token})

    def _judge(self, address: str, declared: Mapping[str, Any] | None, answer: Answer, token: str) -> Finding:
        problem = status_problem(answer, TITLE)
        if problem:
            return Finding(address, False, problem)
        if declared is None:
            how = "still authenticates: delete it in Personio" if token else "no longer authenticates"
            return Finding(
                address, False, f"no longer declared in the desired state and {how}, then remove it from the sink"
            )
        if not declared["enabled"]:
            if token:
                return Finding(address, False, "still authenticates although declared disabled: disable it in Personio")
            return Finding(address, True, f"refused as declared (disabled; HTTP {answer.status})")
        if not token:
            if "scope" in answer.error.lower():
                return Finding(
                    address, False, f"narrower than declared: {answer.error} (a declared permission is not ticked)"
                )
            said = f" ({answer.error})" if answer.error else ""
            return Finding(
                address,
                False,
                f"refused with HTTP {answer.status}{said}: the secret is wrong, "
                "or the credentials were disabled or deleted in Personio",
            )
        return self._probe(address, declared, token)

    def _token(
        self, address: str, entry: Mapping[str, Any], scopes: list[str], redactor: Redactor
    ) -> tuple[Answer, str]:
        if self.auth == "v1":
            body = {"client_id": entry["client_id"], "client_secret": entry["client_secret"]}
            answer = self.api.call(address, "POST", "/v1/auth", json=body)
            data = answer.body.get("data") if isinstance(answer.body, Mapping) else None
            token = str(data.get("token") or "") if answer.status == 200 and isinstance(data, Mapping) else ""
        else:
            form = {"grant_type": "client_credentials", "client_id": entry["client_id"]}
            form["client_secret"] = entry["client_secret"]
            if scopes:
                form["scope"] = " ".join(scopes)
            answer = self.api.call(address, "POST", "/v2/auth/token", data=form)
            reply = answer.body if isinstance(answer.body, Mapping) else {}
            token = str(reply.get("access_token") or "") if answer.status == 200 else ""
        if token:
            redactor.add(token)
        return answer._replace(body=None), token

    def _probe(self, address: str, declared: Mapping[str, Any], token: str) -> Finding:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        readable = sorted(m for m, levels in declared["permissions"].items() if "read" in levels and m in PROBES)
        missing, seen = [], None
        today = datetime.now(UTC).date().isoformat()
        for module in readable:
            answer = self.api.call(address, "GET", PROBES[module].format(today=today), headers=headers)
            problem = status_problem(answer, TITLE)
            if problem:
                return Finding(address, False, f"{module}: {problem}")
            if answer.status == 403:
                missing.append(f"{module}:read")
            elif answer.status != 200:
                return Finding(address, False, f"{module}: unexpected HTTP {answer.status} from Personio")
            elif module == "employees":
                seen = field_names(answer.body)
        return _verdict(address, declared, missing, seen)


def field_names(body: Any) -> frozenset[str] | None:
    """The names of the fields the first employee record carries (v1 `data[0].attributes`); None
    when there is no record to look at. Values are not read."""
    records = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    fields = records[0].get("attributes")
    return frozenset(fields) if isinstance(fields, Mapping) else None


def _verdict(address: str, declared: Mapping[str, Any], missing: list[str], seen: Iterable[str] | None) -> Finding:
    allowed = set(declared["attributes"])
    extra = sorted(set(seen or ()) - allowed - ALWAYS_RETURNED)
    absent = sorted(allowed - set(seen)) if seen is not None else []
    problems = []
    if missing:
        problems.append(f"narrower than declared: missing {', '.join(missing)} (403 Insufficient access scope)")
    if absent:
        problems.append(f"narrower than declared: employee attributes not returned: {', '.join(absent)}")
    if extra:
        problems.append(
            f"wider than declared (escalation): employee attributes not in the allow-list: {', '.join(extra)}"
        )
    if problems:
        return Finding(address, False, "; ".join(problems) + ": fix it in Personio (keyform plan shows the steps)")
    checked = f"{len(declared['permissions'])} module(s)"
    fields = f", {len(allowed)} employee attribute(s) as declared" if seen is not None else ""
    if seen is None and "employees" in declared["permissions"]:
        fields = ", attributes not compared (no employee record to look at)"
    return Finding(address, True, f"authenticates; {checked} as declared{fields}")
