"""The vault sink: one HashiCorp Vault KV v2 secret per address.

Layout. The secret of address `KIND/NAME` is written with `POST /v1/<mount>/data/<prefix>/KIND/NAME`
(`{"data": entry}`, the file sink's entry) and so lives at `<mount>/<prefix>/KIND/NAME`, e.g.
`vault kv get -mount=secret keyform/users/tom.becker@acme.example`. Every path segment (of the
mount, the prefix and the address) is percent-encoded in the URL (`@` becomes `%40`); Vault decodes
the URL, so the stored key keeps the plain name. A segment that is empty, `.` or `..`, or a name with
a `/` in it, is refused, so an address can never land outside its own path.

Rotation overlap: each write is a new KV version, so a retiring secret stays readable as the previous
version (`vault kv get -version=N-1 ...`) until KV's version limit drops it.

Deletes: keyform never deletes in Vault (its token needs only create and update), so the path of a
resource apply deleted keeps its last version; its secret died with the resource. Remove it with
`vault kv metadata delete` when you no longer want the record.

Preflight: `GET /v1/sys/health` (standbys count as healthy; they forward writes) and
`GET /v1/auth/token/lookup-self` with the token. Whether the token may write under the prefix is
proved by the first write; a failed write sends the secret to apply's emergency file.

The token is sent only in the `X-Vault-Token` header; errors name the address, the URL path and the
HTTP status with Vault's `errors` list, never the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.providers.http import sanitize_url
from keyform.secrets.base import SecretSink
from keyform.secrets.file_sink import entry_for

TIMEOUT = (10.0, 30.0)  # connect, read (seconds)
HEALTH_PROBLEMS = {501: "is not initialized", 503: "is sealed", 530: "was removed from its cluster"}


class VaultSink(SecretSink):
    """Writes each new secret to Vault KV v2 under `mount` and `prefix`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        mount: str = "secret",
        prefix: str = "",
        session: requests.Session | None = None,
    ):
        if not url or urlsplit(url).scheme not in ("http", "https"):
            raise SecretSinkError(
                f"secrets.url {sanitize_url(url or '')!r} is not an http(s) URL: e.g. https://vault:8200"
            )
        if not token:
            raise SecretSinkError("secrets.token is empty: set it to ${env:VAULT_TOKEN} (or export VAULT_TOKEN)")
        self.url = url.rstrip("/")
        self.mount = _segments(mount, "secrets.mount")
        self.prefix = _segments(prefix, "secrets.prefix")
        if not self.mount:
            raise SecretSinkError("secrets.mount is empty: name the KV v2 mount, e.g. secret")
        self.session = session or requests.Session()
        self._token = token

    def describe(self) -> str:
        return f"{sanitize_url(self.url)} (KV v2 {'/'.join([*self.mount, *self.prefix])}/)"

    def path_for(self, address: str) -> str:
        """The KV path (below the mount) where the secret of `address` is stored."""
        return "/".join([*self.prefix, *_address_segments(address)])

    def url_for(self, address: str) -> str:
        """The KV v2 data endpoint for `address`, every segment percent-encoded."""
        segments = [*self.mount, "data", *self.prefix, *_address_segments(address)]
        return f"{self.url}/v1/" + "/".join(quote(segment, safe="") for segment in segments)

    def preflight(self) -> None:
        health = self._send("GET", "/v1/sys/health", "Vault", params={"standbyok": "true", "perfstandbyok": "true"})
        if health.status_code != 200:
            problem = HEALTH_PROBLEMS.get(health.status_code, "is not healthy")
            raise SecretSinkError(
                f"Vault at {sanitize_url(self.url)} {problem} (GET /v1/sys/health: HTTP {health.status_code}): "
                "fix Vault before applying"
            )
        lookup = self._send("GET", "/v1/auth/token/lookup-self", "Vault token")
        if lookup.status_code != 200:
            raise SecretSinkError(
                f"Vault at {sanitize_url(self.url)} refused secrets.token (GET /v1/auth/token/lookup-self: "
                f"HTTP {lookup.status_code}{self._errors(lookup)}): the token is invalid or expired; log in again"
            )

    def deliver(self, secret: GeneratedSecret) -> None:
        url = self.url_for(secret.address)
        path = url[len(self.url) :]
        response = self._send("POST", path, secret.address, json={"data": entry_for(secret, None)})
        if response.status_code not in (200, 204):
            hint = (
                ": the token may not write there; grant create and update on that path"
                if response.status_code == 403
                else ""
            )
            raise SecretSinkError(
                f"{secret.address}: Vault refused POST {path} with HTTP {response.status_code}"
                f"{self._errors(response)}{hint}"
            )

    def _errors(self, response: requests.Response) -> str:
        return _vault_errors(response).replace(self._token, "<redacted>")

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(
                method, self.url + path, headers={"X-Vault-Token": self._token}, timeout=TIMEOUT, **kwargs
            )
        except requests.exceptions.Timeout:
            raise SecretSinkError(
                f"{what}: {method} {path} on Vault {sanitize_url(self.url)} timed out after {TIMEOUT[1]:g}s"
            ) from None
        except requests.exceptions.RequestException as error:
            reason = type(error).__name__
            raise SecretSinkError(
                f"{what}: can't reach Vault at {sanitize_url(self.url)} ({reason}): check secrets.url"
            ) from None


def make_vault_sink(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> VaultSink:
    """A VaultSink from `secrets:` options; the token defaults to the VAULT_TOKEN environment variable."""
    environ = os.environ if environ is None else environ
    token = options.get("token") or environ.get("VAULT_TOKEN", "")
    return VaultSink(
        str(options.get("url") or ""),
        str(token),
        mount=str(options.get("mount") or "secret"),
        prefix=str(options.get("prefix") or ""),
    )


def _segments(path: str, where: str) -> list[str]:
    segments = [segment for segment in str(path).strip("/").split("/") if segment]
    for segment in segments:
        if segment in (".", ".."):
            raise SecretSinkError(f"{where} {path!r} may not contain '.' or '..' segments")
    return segments


def _address_segments(address: str) -> list[str]:
    kind, _, name = address.partition("/")
    if not kind or not name or "/" in name or name in (".", "..") or kind in (".", ".."):
        raise SecretSinkError(f"{address}: can't be stored in Vault: the address must be KIND/NAME without '/' in NAME")
    return [kind, name]


def _vault_errors(response: requests.Response) -> str:
    """Vault's error list (`{"errors": [...]}`), shortened, for messages."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return ""
    text = "; ".join(str(e) for e in errors)[:300]
    return f" ({text})" if text else ""


def vault_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    """The `vault` sink's factory (`keyform.secrets.SINKS`)."""
    return make_vault_sink(options)
