"""How the keystone provider verifies a delivered application credential (`keyform verify`).

It logs in with the credential (`POST /v3/auth/tokens`, method `application_credential`) and
compares the token with the desired state: the declared project, every declared role, and no
role beyond those and the roles they imply (as Keystone's `/v3/role_inferences` has them, read
once with keyform's own login, or as the desired state declares them when that login fails).
A credential whose owner is declared disabled is ok when Keystone refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from keystoneauth1 import exceptions as ksa

from keyform.contract import Finding
from keyform.errors import ProviderError
from keyform.model import DesiredState
from keyform.providers.keystone.canonical import implied_by
from keyform.providers.keystone.client import KeystoneClient, TokenFacts, application_credential_login, identity_url
from keyform.providers.keystone.rules import BUILT_IN_IMPLIES, CREDENTIALS
from keyform.secrets.redaction import Redactor

SECRET_TYPE = "application_credential"
FIELDS = ("application_credential_id", "application_credential_secret")


class KeystoneVerifier:
    """Logs in with each delivered credential at provider.auth_url."""

    def __init__(self, options: Mapping[str, Any], session: requests.Session | None = None):
        if not options.get("auth_url"):
            raise ProviderError("keyform verify needs provider.auth_url (e.g. auth_url: ${env:OS_AUTH_URL})")
        self.options = options
        self.url = identity_url(str(options["auth_url"]))
        self.timeout = float(options.get("timeout", 30))
        self.http = session
        self._implies: Mapping[str, list[str]] | None = None

    def close(self) -> None:
        """Nothing to release: every login uses its own session, closed after it."""

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        kind, _, name = address.partition("/")
        if kind != CREDENTIALS:
            return Finding(address, False, f"not an {CREDENTIALS}/ address: keyform never delivers secrets for it")
        if not isinstance(entry, Mapping) or entry.get("type") != SECRET_TYPE:
            return Finding(address, False, f"malformed sink entry: expected type {SECRET_TYPE}")
        if not all(isinstance(entry.get(key), str) and entry.get(key) for key in FIELDS):
            return Finding(address, False, f"malformed sink entry: it needs {' and '.join(FIELDS)}")
        redactor.add(entry["application_credential_secret"])
        facts = self._login(address, entry["application_credential_id"], entry["application_credential_secret"])
        declared = state.of(CREDENTIALS).get(name)
        if declared is None:
            if facts is None:
                return Finding(
                    address, False, "no longer declared (it no longer authenticates): remove it from the sink"
                )
            return Finding(address, False, "no longer declared but still authenticates: run keyform apply to delete it")
        owner = state.of("users").get(declared["owner"]) or {}
        if owner.get("enabled") is False:
            if facts is None:
                return Finding(address, True, f"refused as declared (users/{declared['owner']} is declared disabled)")
            return Finding(address, False, f"authenticates although users/{declared['owner']} is declared disabled")
        if facts is None:
            return Finding(
                address,
                False,
                "does not authenticate: it was revoked, deleted or has expired (keyform apply issues a new one)",
            )
        return self._compare(address, declared, facts, state)

    def _login(self, address: str, credential_id: str, secret: str) -> TokenFacts | None:
        try:
            return application_credential_login(self.url, credential_id, secret, timeout=self.timeout, http=self.http)
        except ksa.ClientException as error:
            raise ProviderError(
                f"{address}: logging in at {self.url} failed ({type(error).__name__}): "
                "is Keystone up? (provider.auth_url)"
            ) from None

    def _compare(self, address: str, declared: Mapping[str, Any], facts: TokenFacts, state: DesiredState) -> Finding:
        if facts.project_name != declared["project"]:
            return Finding(
                address,
                False,
                f"its token is scoped to project {facts.project_name!r}, declared {declared['project']!r}",
            )
        roles = set(declared["roles"])
        allowed = roles | implied_by(roles, self._implications(state))
        missing, extra = sorted(roles - set(facts.roles)), sorted(set(facts.roles) - allowed)
        if missing or extra:
            parts = [f"missing {', '.join(missing)}" if missing else "", f"extra {', '.join(extra)}" if extra else ""]
            drift = "; ".join(part for part in parts if part)
            return Finding(address, False, f"wrong roles: {drift} (run keyform plan to see the drift)")
        return Finding(address, True, f"project {declared['project']}, roles {', '.join(sorted(facts.roles))}")

    def _implications(self, state: DesiredState) -> Mapping[str, list[str]]:
        """Role -> the roles it implies: Keystone's own list, or the declared ones if keyform can't log in."""
        if self._implies is None:
            try:
                client = KeystoneClient(self.options, http=self.http)
                try:
                    inferences = client.listing("/role_inferences", "role_inferences", "implied roles")
                finally:
                    client.close()
                implies: dict[str, list[str]] = {}
                for inference in inferences:
                    names = [role["name"] for role in inference["implies"]]
                    implies.setdefault(inference["prior_role"]["name"], []).extend(names)
                self._implies = implies
            except ProviderError:
                declared = {name: list(role["implies"]) for name, role in state.of("roles").items()}
                self._implies = {**BUILT_IN_IMPLIES, **declared}
        return self._implies
