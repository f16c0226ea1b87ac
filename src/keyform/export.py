"""Live state -> desired-state YAML that validates and plans to zero changes (secrets never included)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from keyform.providers.base import LiveResource

HEADER = "# Exported by `keyform export`: the live state as desired state. No secrets are included.\n"
_USER_DEFAULTS = {
    "role": "standard",
    "roles": [],
    "job_title": "",
    "default_folder": "",
    "cognitive_access": False,
    "archived": False,
}
_CREDENTIAL_DEFAULTS = {"integration": "", "enabled": True, "roles": [], "permissions": {}, "attributes": []}


def export_document(live: Mapping[str, LiveResource], provider_type: str) -> dict[str, Any]:
    """The desired-state document for every live resource (provider settings as env references)."""
    document: dict[str, Any] = {
        "version": 1,
        "provider": {"type": provider_type, "url": "${env:KEYFORM_URL}", "token": "${env:KEYFORM_TOKEN}"},
    }
    organization = live.get("organization")
    if organization is not None:
        document["organization"] = dict(organization.attributes)
    sections: dict[str, dict[str, Any]] = {"roles": {}, "users": {}, "credentials": {}}
    for address in sorted(live):
        kind, _, name = address.partition("/")
        if kind in sections:
            sections[kind][name] = _entry(kind, live[address].attributes)
    for kind, entries in sections.items():
        if entries:
            document[kind] = entries
    return document


def export_yaml(live: Mapping[str, LiveResource], provider_type: str) -> str:
    return HEADER + yaml.safe_dump(export_document(live, provider_type), sort_keys=False, allow_unicode=True, width=120)


def _entry(kind: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "roles":
        entry = {
            "description": attributes["description"],
            "permissions": attributes["permissions"],
            "attributes": attributes["attributes"],
        }
        return {k: v for k, v in entry.items() if v not in ("", [], {})}
    if kind == "users":
        entry = {"first_name": attributes["first_name"], "last_name": attributes["last_name"]}
        entry.update({k: attributes[k] for k, default in _USER_DEFAULTS.items() if attributes.get(k) != default})
        if attributes.get("api_key_enabled") is not None:
            entry["api_key"] = {"enabled": attributes["api_key_enabled"]}
        return entry
    return {k: attributes[k] for k, default in _CREDENTIAL_DEFAULTS.items() if attributes.get(k) != default}
