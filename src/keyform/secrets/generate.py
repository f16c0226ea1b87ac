"""Secrets keyform makes itself, for kinds whose system lets the client set the secret
(`SecretSource.KEYFORM`: a PostgreSQL role's password, say).

The secret comes from the operating system's CSPRNG (`secrets.choice`) over the kind's alphabet
and length. It reaches the sink before the system: apply writes it ahead, marked pending, then
sets it, then confirms it (see `keyform.apply` and docs/providers.md for the crash points).
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime

from keyform.contract import Change, GeneratedSecret, SecretSpec
from keyform.errors import ProviderError

MIN_BITS = 128  # a declared alphabet and length must give at least this much entropy


def check_strength(kind: str, spec: SecretSpec) -> None:
    """ProviderError unless the kind's alphabet and length make a secret of at least MIN_BITS."""
    symbols = len(set(spec.alphabet))
    bits = spec.length * math.log2(symbols) if symbols > 1 else 0.0
    if bits < MIN_BITS:
        raise ProviderError(
            f"kind {kind} declares keyform-generated secrets of {spec.length} characters from {symbols} distinct "
            f"symbols ({bits:.0f} bits): the provider must declare at least {MIN_BITS} bits (a longer length or "
            "a larger alphabet)"
        )


def new_secret(change: Change, spec: SecretSpec) -> GeneratedSecret:
    """A fresh secret for `change`, marked pending; during an overlap rotation it names the one it retires."""
    check_strength(change.kind, spec)
    value = "".join(secrets.choice(spec.alphabet) for _ in range(spec.length))
    retiring = change.details.get("old_secret") if change.details.get("phase") == "add" else None
    return GeneratedSecret(
        address=change.address,
        type=spec.field_name,
        fields={spec.field_name: value},
        secret_id="kf-" + secrets.token_hex(8),
        created_at=datetime.now(UTC).replace(microsecond=0),
        retiring=retiring,
        public=(),
        pending=True,
    )
