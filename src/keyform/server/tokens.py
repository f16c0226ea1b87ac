"""Identifiers, secrets, their hashes and timestamps.

Secrets (API keys, client secrets, access tokens) are 240 bits from `secrets.token_urlsafe`,
so a fast unsalted SHA-256 is the right hash: brute force is hopeless and lookups stay indexed.
A slow password hash (bcrypt, scrypt) only matters for low-entropy, human-chosen secrets.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime

API_KEY_PREFIX = "kfk_"
CLIENT_SECRET_PREFIX = "kfs_"
ACCESS_TOKEN_PREFIX = "kft_"
CLIENT_ID_PREFIX = "kfc_"


def new_id(prefix: str) -> str:
    """An opaque resource id such as `usr_3f9a...`."""
    return f"{prefix}_{secrets.token_hex(8)}"


def new_secret(prefix: str) -> str:
    """A fresh secret: the prefix plus 40 URL-safe characters (30 random bytes)."""
    return prefix + secrets.token_urlsafe(30)


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_hex(12)


def hash_secret(secret: str) -> str:
    """The only form in which a secret is stored (see the module docstring for why SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def now() -> float:
    return time.time()


def iso(timestamp: float) -> str:
    """RFC 3339 UTC with a `Z` suffix, seconds precision."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
