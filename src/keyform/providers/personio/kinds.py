"""Personio's kind: `credentials`, the seed's API credentials (Settings > API credentials).

The same YAML shape as the keyform server's credentials (name, integration, enabled, read/write
permissions per module, the employee-attribute allow-list, rotate_after, rotation_overlap), so
the schema fragment and canonical form are the keyform provider's, without `roles` (Personio
credentials carry their permissions themselves).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import Kind, Rotation, SecretSource, SecretSpec
from keyform.providers.keyform.kinds import NAME_HINT, credential_attributes, export_credential, fragment, own_grants

DEFAULT_API_URL = "https://api.personio.de"


def attributes(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form: the keyform server's credential, without roles."""
    canonical = credential_attributes(spec)
    del canonical["roles"]
    return canonical


def export(canonical: Mapping[str, Any]) -> dict[str, Any]:
    return export_credential({**canonical, "roles": []})


_CREDENTIALS = fragment("credentials", without=("roles",))

CREDENTIALS = Kind(
    name="credentials",
    noun="credential",
    description="Personio API credentials (Settings > API credentials) by name.",
    schema=_CREDENTIALS["schema"],
    names=_CREDENTIALS["names"],
    name_hint=NAME_HINT,
    canonical=attributes,
    export=export,
    # Personio shows a pair's secret once and can't regenerate it: a rotation is a second pair,
    # made by hand, then the first one deleted (after rotation_overlap, or at once without one).
    secret=SecretSpec(source=SecretSource.API, rotation=Rotation.OVERLAP, max_live=2, noun="client secret"),
    grants=own_grants,
    key_order=("integration", "enabled", "permissions", "attributes", "rotate_after", "rotation_overlap"),
)

KINDS = (CREDENTIALS,)
