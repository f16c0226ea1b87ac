"""SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677), in PostgreSQL's stored format.

keyform sends `ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$4096:salt$StoredKey:ServerKey'`: the server
stores the verifier as it is, so the password itself never crosses the connection or reaches the
server's statement log (ALTER ROLE takes no bind parameters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
SALT_BYTES = 16


def verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The verifier PostgreSQL stores for `password` (a fresh random salt unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
