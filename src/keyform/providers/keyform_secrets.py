"""Issuing and revoking secrets on `keyform server`, safe under retries whose first answer was lost.

A POST that is retried with its Idempotency-Key after the server committed it is answered with
the original response minus the secret (the server shows a secret once). Each helper here notices
that, retires the unseen secret and issues another, so a secret is never left without a holder.
Only the first request of a change carries the plan's If-Match; follow-up steps don't, because
their own retries would otherwise fail on the etag their first attempt already moved.
"""

from __future__ import annotations

from typing import Any

from keyform.errors import ProviderError
from keyform.providers.http import ApiClient, ApiResponseError

ATTEMPTS = 3


def issue_api_key(client: ApiClient, user_path: str, *, what: str, if_match: str | None) -> dict[str, Any]:
    """Generate the user's new API key (the old one stops working at once); returns the key object."""
    for attempt in range(ATTEMPTS):
        key: dict[str, Any] = client.request(
            "POST", f"{user_path}/api-key", what=what, json={}, if_match=if_match if attempt == 0 else None
        ).json()
        if key.get("api_key"):
            return key
        # replayed without the key: generating another deactivates the unseen one
    raise ProviderError(f"{what}: the API key's response was lost {ATTEMPTS} times in a row; run apply again")


def add_client_secret(client: ApiClient, credential_path: str, *, what: str, if_match: str | None) -> dict[str, Any]:
    """Add a live client secret to a credential; returns {id, created_at, client_secret}."""
    for attempt in range(ATTEMPTS):
        created: dict[str, Any] = client.request(
            "POST", f"{credential_path}/secrets", what=what, json={}, if_match=if_match if attempt == 0 else None
        ).json()
        if created.get("client_secret"):
            return created
        revoke_client_secret(client, credential_path, created["id"], what=what)  # nobody has it: take it back
    raise ProviderError(f"{what}: the new secret's response was lost {ATTEMPTS} times in a row; run apply again")


def revoke_client_secret(client: ApiClient, credential_path: str, secret_id: str, *, what: str) -> None:
    """Revoke one secret now; a secret that is already gone counts as revoked."""
    try:
        client.request("DELETE", f"{credential_path}/secrets/{secret_id}", what=what)
    except ApiResponseError as error:
        if error.status != 404:
            raise
