"""Seed a running `keyform server` with N users (each with an API key), N credentials and 50 roles.

Everything is created through the public API, marked as managed by keyform, and described by a
matching desired-state file, so `keyform plan` against it is a no-op.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROLES = 50
HEADER = """version: 1
provider:
  type: keyform
  url: ${env:KEYFORM_URL}
  token: ${env:KEYFORM_TOKEN}
  concurrency: 8
secrets:
  type: file
  path: .keyform/secrets.json
safety:
  max_delete_fraction: 0.25
"""


def role(r: int) -> dict:
    return {
        "name": f"role-{r:02}",
        "description": f"Role {r}",
        "permissions": {"employees": ["read"]},
        "attributes": ["first_name", "last_name"],
    }


def user(i: int) -> dict:
    return {
        "email": f"user{i:05}@bench.example",
        "first_name": "User",
        "last_name": f"N{i}",
        "roles": [f"role-{i % ROLES:02}"],
    }


def credential(i: int, *, changed: bool = False) -> dict:
    integration = f"system {i % 7}" + (" v2" if changed else "")
    return {
        "name": f"cred-{i:05}",
        "integration": integration,
        "roles": [f"role-{i % ROLES:02}"],
        "permissions": {"attendances": ["read"]},
    }


def _poster(token: str):
    """A post(url, body) function with one keep-alive session per thread."""
    local = threading.local()

    def post(url: str, body: dict) -> dict:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {token}"
        response = local.session.post(url, json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    return post


def managed(body: dict) -> dict:
    return {**body, "managed_by": "keyform"}


def create_credentials(url: str, token: str, indices: range, workers: int = 8) -> None:
    """Create the credentials `indices` name, `workers` requests at a time."""
    post = _poster(token)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: post(f"{url}/v1/credentials", managed(credential(i))), indices))


def seed(url: str, token: str, n: int, workers: int = 8) -> None:
    """Create 50 roles, then n users with keys and n credentials, `workers` requests at a time."""
    post = _poster(token)

    def make_user(i: int) -> None:
        created = post(f"{url}/v1/users", managed(user(i)))
        post(f"{url}/v1/users/{created['id']}/api-key", {})  # the key itself is discarded: a benchmark needs none

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda r: post(f"{url}/v1/roles", managed(role(r))), range(ROLES)))
        list(pool.map(make_user, range(n)))
    create_credentials(url, token, range(n), workers)


def write_config(path: Path, n: int, *, changed_every: int = 0, extra_credentials: int = 0) -> None:
    """The desired state matching `seed(n)`; `changed_every=100` alters 1% of credentials."""
    lines = [HEADER, "roles:"]
    for r in range(ROLES):
        body = role(r)
        lines += [
            f"  {body['name']}:",
            f"    description: {body['description']}",
            "    permissions:",
            "      employees: [read]",
            "    attributes: [first_name, last_name]",
        ]
    lines.append("users:")
    for i in range(n):
        body = user(i)
        lines += [
            f"  {body['email']}:",
            "    first_name: User",
            f"    last_name: N{i}",
            f"    roles: [{body['roles'][0]}]",
            "    api_key:",
            "      enabled: true",
        ]
    lines.append("credentials:")
    for i in range(n + extra_credentials):
        body = credential(i, changed=bool(changed_every) and i % changed_every == 0)
        lines += [
            f"  {body['name']}:",
            f"    integration: {body['integration']}",
            f"    roles: [{body['roles'][0]}]",
            "    permissions:",
            "      attendances: [read]",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
