"""Keystone's Identity API v3 through keystoneauth1: authentication, listings, writes, one-line errors.

keystoneauth1 does the authentication (password, application credential or token, from the usual
OS_* settings), keeps the token and re-authenticates when it expires; this module never handles a
token itself. Every request goes to the `auth_url` (the identity endpoint), so a catalog that
names internal addresses doesn't matter.

Listings, as Keystone 30 serves them:
- `/v3/users` and `/v3/projects` honour `limit` and follow `links.next` (a `marker`): paginated;
- `/v3/roles`, `/v3/role_inferences`, `/v3/role_assignments`, `/v3/domains`, `/v3/services` and
  `/v3/users/{id}/application_credentials` ignore the marker (a `limit` there returns the first
  page again and again), so they are read whole, in one request each, and a response that says
  `truncated` (a `list_limit` in keystone.conf) is an error instead of a silent short read;
- application credentials exist only per user: one listing per owner is the floor.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from keystoneauth1 import exceptions as ksa
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from keyform.errors import ProviderError

PAGINATED = frozenset({"users", "projects"})  # the listings whose marker Keystone honours
MAX_PAGE = 1000  # Keystone's default max_db_limit
REVOCATION_GRANULARITY = 1.1  # seconds: Keystone's revocation events count whole seconds
AUTH_OPTIONS = (
    "auth_url",
    "username",
    "password",
    "project_name",
    "user_domain_name",
    "project_domain_name",
    "application_credential_id",
    "application_credential_secret",
    "token",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenFacts:
    """What a token says about whoever authenticated: used by `keyform verify`."""

    user_id: str | None
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApplicationCredential:
    """A credential just created: its secret is in the create response and nowhere else, ever."""

    id: str
    name: str
    secret: str

    def __repr__(self) -> str:  # never show the secret
        return f"NewApplicationCredential(id={self.id!r}, name={self.name!r})"


def identity_url(auth_url: str) -> str:
    """The v3 identity endpoint for an OS_AUTH_URL given with or without `/v3`."""
    parts = urlsplit(auth_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"provider.auth_url {auth_url!r} is not an http(s) URL: set OS_AUTH_URL")
    path = parts.path.rstrip("/")
    if not path.endswith("/v3"):
        path += "/v3"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def auth_plugin(options: Mapping[str, Any]) -> tuple[v3.Auth, str]:
    """The keystoneauth1 plugin the options ask for, and a description of it for error messages."""
    plugin: v3.Auth
    if not options.get("auth_url"):
        raise ProviderError("provider: keystone needs auth_url (e.g. auth_url: ${env:OS_AUTH_URL})")
    url = identity_url(str(options["auth_url"]))
    if options.get("application_credential_id"):
        if not options.get("application_credential_secret"):
            raise ProviderError("provider: application_credential_id needs application_credential_secret")
        credential = str(options["application_credential_id"])
        plugin = v3.ApplicationCredential(
            auth_url=url,
            application_credential_id=credential,
            application_credential_secret=str(options["application_credential_secret"]),
        )
        return plugin, (
            f"application credential {credential}: it is wrong, expired or deleted; "
            "check OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET"
        )
    if options.get("token"):
        plugin = v3.Token(
            auth_url=url,
            token=str(options["token"]),
            project_name=options.get("project_name"),
            project_domain_name=str(options.get("project_domain_name") or "Default"),
        )
        return plugin, "the token: it is expired or revoked; issue a new one (openstack token issue) and set OS_TOKEN"
    missing = [key for key in ("username", "password", "project_name") if not options.get(key)]
    if missing:
        raise ProviderError(
            f"provider: keystone needs {', '.join(missing)} for password authentication "
            "(or application_credential_id and application_credential_secret)"
        )
    user_domain = str(options.get("user_domain_name") or "Default")
    project_domain = str(options.get("project_domain_name") or "Default")
    plugin = v3.Password(
        auth_url=url,
        username=str(options["username"]),
        password=str(options["password"]),
        user_domain_name=user_domain,
        project_name=str(options["project_name"]),
        project_domain_name=project_domain,
    )
    return plugin, (
        f"user {options['username']!r} (domain {user_domain!r}) on project {options['project_name']!r}: "
        "check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the domain names"
    )


class KeystoneClient:
    """One authenticated keystoneauth1 session against one Keystone, and the calls keyform makes."""

    def __init__(self, options: Mapping[str, Any], *, http: requests.Session | None = None):
        self.url = identity_url(str(options.get("auth_url") or ""))
        self.page_size = min(int(options.get("page_size", MAX_PAGE)), MAX_PAGE)
        self._plugin, self._auth_hint = auth_plugin(options)
        self._http = http
        self.session = ksa_session.Session(auth=self._plugin, session=http, timeout=float(options.get("timeout", 30)))
        self.requests_sent = 0  # HTTP requests this client's session sent, logins included
        self._count_lock = threading.Lock()
        self.session.session.hooks["response"].append(self._count)
        self._owner_passwords: dict[str, str] = {}  # user id -> one-time password, memory only
        self._owner_sessions: dict[tuple[str, str], ksa_session.Session] = {}
        self._hidden = {
            str(options[key]) for key in ("password", "application_credential_secret", "token") if options.get(key)
        }

    def describe(self) -> str:
        return self.url

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A `requests` response hook: one more request sent."""
        with self._count_lock:
            self.requests_sent += 1

    def close(self) -> None:
        if self._http is None:
            for owner in self._owner_sessions.values():
                owner.session.close()
        self.session.session.close()

    # -- requests -------------------------------------------------------------------------------

    def authenticate(self) -> TokenFacts:
        """Authenticate now (keyform's own identity); a refusal becomes one line naming the fix."""
        try:
            access = self._plugin.get_access(self.session)
        except (ksa.Unauthorized, ksa.NotFound):  # a revoked token is "not found"
            raise ProviderError(f"Keystone at {self.url} refused {self._auth_hint}") from None
        except ksa.ClientException as error:
            raise self._error(error, "authentication") from None
        return TokenFacts(
            user_id=access.user_id,
            project_id=access.project_id,
            project_name=access.project_name,
            roles=tuple(sorted(access.role_names or ())),
        )

    def request(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """One request to the identity endpoint; the JSON body (None for 204)."""
        url = path if path.startswith("http") else self.url + path
        try:
            response = self.session.request(url, method, raise_exc=True, **kwargs)
        except ksa.ClientException as error:
            raise self._error(error, what) from None
        return response.json() if response.content else None

    def listing(self, path: str, key: str, what: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a collection: pages of `page_size` where Keystone honours the marker."""
        return list(self._items(path, key, what, dict(params or {})))

    def _items(self, path: str, key: str, what: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        if key in PAGINATED:
            params["limit"] = str(self.page_size)
        url: str | None = path
        seen: set[str] = set()
        while url:
            body = self.request("GET", url, what, params=params)
            params = {}  # the next link carries them
            items = body[key]
            if key in PAGINATED:
                ids = {item["id"] for item in items}
                if ids & seen:  # a marker Keystone ignored: stop instead of looping
                    raise ProviderError(f"{what}: Keystone repeated a page of {path}; report this Keystone version")
                seen |= ids
            yield from items
            url = (body.get("links") or {}).get("next") if key in PAGINATED else None
            if url is None and body.get("truncated"):
                raise ProviderError(
                    f"{what}: Keystone truncated the {key} listing (a list_limit in keystone.conf): "
                    f"unset list_limit for {key} or raise it above the number of {key}"
                )

    def _error(self, error: ksa.ClientException, what: str) -> ProviderError:
        return ProviderError(self._redact(explain(error, what, self.url)))

    def _redact(self, text: str) -> str:
        for value in self._hidden:
            text = text.replace(value, "<hidden>")
        return text

    def hide(self, value: str) -> str:
        """Remember a secret value so no error message ever shows it."""
        self._hidden.add(value)
        return value

    # -- writes ---------------------------------------------------------------------------------

    def create(self, collection: str, member: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        created: dict[str, Any] = self.request("POST", f"/{collection}", what, json={member: dict(body)})[member]
        return created

    def update(self, collection: str, member: str, id: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        updated: dict[str, Any] = self.request("PATCH", f"/{collection}/{id}", what, json={member: dict(body)})[member]
        return updated

    def delete(self, collection: str, id: str, what: str) -> None:
        self.request("DELETE", f"/{collection}/{id}", what)

    def grant(self, project_id: str, user_id: str, role_id: str, what: str) -> None:
        self.request("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}", what)

    def revoke(self, project_id: str, user_id: str, role_id: str, what: str) -> None:
        self.request("DELETE", f"/projects/{project_id}/users/{user_id}/roles/{role_id}", what)

    def imply(self, prior_id: str, implied_id: str, what: str) -> None:
        self.request("PUT", f"/roles/{prior_id}/implies/{implied_id}", what)

    def unimply(self, prior_id: str, implied_id: str, what: str) -> None:
        self.request("DELETE", f"/roles/{prior_id}/implies/{implied_id}", what)

    def create_application_credential(
        self, *, user_id: str, project_id: str, body: Mapping[str, Any], what: str
    ) -> NewApplicationCredential:
        """Create a credential as its owner (Keystone allows nothing else).

        keyform sets the owner a fresh random password that only this client ever holds, in
        memory, logs in with it scoped to the credential's project and creates the credential.
        Keystone revokes the owner's live tokens on a password change (clients holding its
        application credentials re-authenticate on their next 401, which keystoneauth1 does), and
        its revocation events count whole seconds: a login in the same second would be revoked
        too, so the first login waits for the next second (once per owner and apply).
        """
        owner = self._owner_session(user_id, project_id, what)
        try:
            response = owner.request(
                self.url + f"/users/{user_id}/application_credentials", "POST", json=body, raise_exc=True
            )
        except ksa.Unauthorized as error:
            raise self._error(error, f"{what} (logging in as its owner)") from None
        except ksa.ClientException as error:
            raise self._error(error, what) from None
        created = response.json()["application_credential"]
        return NewApplicationCredential(id=created["id"], name=created["name"], secret=self.hide(created["secret"]))

    def _owner_session(self, user_id: str, project_id: str, what: str) -> ksa_session.Session:
        if user_id not in self._owner_passwords:
            password = self.hide(secrets.token_urlsafe(32))
            self.update("users", "user", user_id, {"password": password}, what)
            self._owner_passwords[user_id] = password
            time.sleep(REVOCATION_GRANULARITY)
        key = (user_id, project_id)
        if key not in self._owner_sessions:
            password = self._owner_passwords[user_id]
            plugin = v3.Password(auth_url=self.url, user_id=user_id, password=password, project_id=project_id)
            self._owner_sessions[key] = ksa_session.Session(
                auth=plugin, session=self._http, timeout=self.session.timeout
            )
        return self._owner_sessions[key]

    def delete_application_credential(self, user_id: str, credential_id: str, what: str) -> None:
        """Delete one; one already gone (its owner was deleted, a retried apply) is fine."""
        url = f"{self.url}/users/{user_id}/application_credentials/{credential_id}"
        try:
            self.session.request(url, "DELETE", raise_exc=True)
        except ksa.NotFound:
            return
        except ksa.ClientException as error:
            raise self._error(error, what) from None

    def authenticate_application_credential(self, credential_id: str, secret: str) -> TokenFacts:
        """Log in with an application credential (`keyform verify`): the token's user, project and roles."""
        self.hide(secret)
        try:
            facts = application_credential_login(
                self.url, credential_id, secret, timeout=self.session.timeout, http=self._http
            )
        except ksa.ClientException as error:
            raise self._error(error, f"application credential {credential_id}") from None
        if facts is None:
            raise ProviderError(
                f"application credential {credential_id} does not authenticate: it is wrong, expired or deleted; "
                "run keyform apply to issue a new one"
            )
        return facts


def application_credential_login(
    url: str, credential_id: str, secret: str, *, timeout: float | None = 30.0, http: requests.Session | None = None
) -> TokenFacts | None:
    """The token facts of a login with an application credential, or None when Keystone refuses it.

    Raises keystoneauth1's ClientException for anything else (Keystone unreachable, a 5xx).
    """
    plugin = v3.ApplicationCredential(
        auth_url=url, application_credential_id=credential_id, application_credential_secret=secret
    )
    session = ksa_session.Session(auth=plugin, session=http, timeout=timeout)
    try:
        access = plugin.get_access(session)
    except (ksa.Unauthorized, ksa.NotFound):
        return None
    finally:
        if http is None:
            session.session.close()
    return TokenFacts(
        user_id=access.user_id,
        project_id=access.project_id,
        project_name=access.project_name,
        roles=tuple(sorted(access.role_names or ())),
    )


def explain(error: ksa.ClientException, what: str, url: str) -> str:
    """One line: what failed, what Keystone said, and the fix."""
    said = server_message(error)
    if isinstance(error, ksa.ConnectionError | ksa.DiscoveryFailure):
        return f"{what}: cannot reach Keystone at {url}: check provider.auth_url (OS_AUTH_URL)"
    if isinstance(error, ksa.Unauthorized):
        return f"{what}: Keystone refused the login ({said}): check the provider's credentials"
    if isinstance(error, ksa.Forbidden):
        return f"{what}: Keystone forbids it ({said}): keyform's user needs the admin role"
    if isinstance(error, ksa.NotFound):
        return f"{what}: Keystone has no such resource ({said}): it changed outside keyform; plan again"
    if isinstance(error, ksa.Conflict):
        return f"{what}: it already exists in Keystone ({said}): adopt it or choose another name"
    if isinstance(error, ksa.BadRequest):
        return f"{what}: Keystone rejected it ({said}): fix it in the YAML"
    if isinstance(error, ksa.HttpError):
        return f"{what}: Keystone answered {error.http_status} ({said})"
    return f"{what}: {type(error).__name__} talking to Keystone at {url}"


def server_message(error: ksa.ClientException) -> str:
    """Keystone's own message (its error body), on one line."""
    message = str(getattr(error, "details", None) or error.message or "").strip()
    response = getattr(error, "response", None)
    if response is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            message = response.json()["error"]["message"]
    return " ".join(message.split()).rstrip(".") or "no details"
