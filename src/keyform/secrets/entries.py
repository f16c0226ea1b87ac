"""The shape of one secret's entry in a sink document, and which of its fields are secret.

An entry holds the secret's facts (`type`, `secret_id`, `created_at`; `retired_at` once the
resource is deleted), its fields, during a rotation overlap the `retiring` secret, and while keyform
sets a secret it generated, the `pending` ones (written ahead of the system). Fields the
provider marks public (a client id, an AWS access key id) are listed under `public` when they
differ from the default, so the sink, `verify` and the redactor tell them from secret values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

FACTS = frozenset({"type", "secret_id", "created_at", "retired_at", "public", "address", "retiring", "pending"})
DEFAULT_PUBLIC = ("client_id",)  # entries written before `public` existed: the keyform provider's


def public_fields(entry: Mapping[str, Any]) -> frozenset[str]:
    """The fields of `entry` that are not secret: its facts and the fields its provider marked public."""
    public = entry.get("public")
    named = public if isinstance(public, list) else DEFAULT_PUBLIC
    return FACTS | {str(name) for name in named}


def secret_values(entry: Mapping[str, Any]) -> Iterator[str]:
    """Every secret value in one entry, the retiring secret's and any pending one's included."""
    pending = entry.get("pending")
    for part in (entry, entry.get("retiring"), *(pending if isinstance(pending, list) else ())):
        if isinstance(part, Mapping):
            public = public_fields(entry)
            yield from (value for key, value in part.items() if key not in public and isinstance(value, str) and value)


def without_secrets(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's public facts and fields only (a retired entry keeps these)."""
    public = public_fields(entry) - {"retiring"}
    return {key: value for key, value in entry.items() if key in public}
