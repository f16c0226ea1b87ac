"""`keyform verify` for Predictive Index API keys, over PI's documented REST API.

Per sink entry (an API key): one read with the key in the `api-key` header on a documented list
endpoint with the smallest page (`GET /jobs?$top=1`): 200 means the key works, 401 that it is
dead or deactivated (a newer key was generated, or the user archived), 403 that API access is
switched off for the instance or the user's role is too narrow. Where the YAML grants the user
cognitive access, one cognitive read (`$top=1`) proves it. Bodies are never printed or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from keyform.contract import Finding
from keyform.model import DesiredState
from keyform.providers.predictive_index.kinds import DEFAULT_API_URL
from keyform.providers.vendor_http import Answer, VendorApi, status_problem
from keyform.secrets.redaction import Redactor

TITLE = "Predictive Index"
READ = "/jobs?$top=1"
COGNITIVE_READ = "/cognitiveassessments?$top=1"


class PredictiveIndexVerifier:
    """Checks each sink entry's API key against PI (see the module docstring)."""

    def __init__(self, options: Mapping[str, Any], session: requests.Session | None = None):
        self.api = VendorApi(
            str(options.get("api_url") or DEFAULT_API_URL), TITLE, float(options.get("timeout", 30)), session
        )

    def close(self) -> None:
        self.api.close()

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        kind, _, email = address.partition("/")
        if kind != "users":
            return Finding(address, False, "not a users/ address: keyform never delivers secrets for it")
        key = entry.get("api_key") if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or not key:
            return Finding(address, False, "malformed sink entry: it needs api_key")
        redactor.add(key)
        headers = {"api-key": key, "Accept": "application/json"}
        answer = self.api.call(address, "GET", READ, headers=headers)
        problem = status_problem(answer, TITLE)
        if problem:
            return Finding(address, False, problem)
        user = state.of("users").get(email.lower())
        if user is None:
            how = "still works: generate a new key for the user in PI" if answer.status == 200 else "no longer works"
            return Finding(
                address, False, f"no longer declared in the desired state and the key {how}; remove it from the sink"
            )
        refused = _refused_because(state, user)
        if refused:
            if answer.status == 200:
                return Finding(
                    address, False, f"the key still works although {refused}: carry out keyform plan's steps"
                )
            return Finding(address, True, f"refused as declared ({refused}; HTTP {answer.status})")
        if answer.status != 200:
            return Finding(address, False, _refusal(answer))
        if user.get("cognitive_access"):
            cognitive = self.api.call(address, "GET", COGNITIVE_READ, headers=headers)
            problem = status_problem(cognitive, TITLE)
            if problem:
                return Finding(address, False, f"cognitive read: {problem}")
            if cognitive.status != 200:
                return Finding(
                    address,
                    False,
                    f"narrower than declared: the cognitive read answered HTTP {cognitive.status}: "
                    "an Account Owner must tick Cognitive access for the user",
                )
            return Finding(address, True, "the key works, and reads cognitive results as declared")
        return Finding(address, True, "the key works")


def _refused_because(state: DesiredState, user: Mapping[str, Any]) -> str:
    organization = state.of("organization").get("organization") or {}
    if user.get("archived"):
        return "the user is declared archived"
    if user.get("api_key_enabled") is False:
        return "the API key is declared disabled"
    if organization.get("api_access") is False:
        return "organization.api_access is declared false"
    return ""


def _refusal(answer: Answer) -> str:
    said = f" ({answer.error})" if answer.error else ""
    if answer.status == 401:
        return f"refused with HTTP 401{said}: the key is dead or deactivated (a newer key was generated?)"
    if answer.status == 403:
        return f"refused with HTTP 403{said}: API access is off for the instance, or the user's role is too narrow"
    return f"unexpected HTTP {answer.status}{said} from Predictive Index"
