"""Live state -> desired-state YAML that validates and plans to zero changes (secrets never included).

Each kind's `export` turns canonical attributes back into the shortest spec; the provider's
`export_settings` gives its `provider:` options (secrets as ${env:NAME} references).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from keyform.contract import LiveResource, Provider

HEADER = "# Exported by `keyform export`: the live state as desired state. No secrets are included.\n"


def export_document(
    live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider] | None = None
) -> dict[str, Any]:
    """The desired-state document for every live resource of the provider's kinds."""
    if provider is None:
        from keyform.providers.registry import provider_class

        provider = provider_class(provider_type)
    document: dict[str, Any] = {"version": 1, "provider": {"type": provider_type, **provider.export_settings()}}
    for kind in provider.kinds:
        if kind.singleton:
            resource = live.get(kind.name)
            if resource is not None:
                document[kind.name] = kind.export(resource.attributes)
            continue
        prefix = kind.name + "/"
        entries = {
            address[len(prefix) :]: kind.export(live[address].attributes)
            for address in sorted(live)
            if address.startswith(prefix)
        }
        if entries:
            document[kind.name] = entries
    return document


def export_yaml(live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider] | None = None) -> str:
    document = export_document(live, provider_type, provider)
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
