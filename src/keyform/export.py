"""Live state -> desired-state YAML that validates and plans to zero changes (secrets never included).

Printed, the export is one document. Written to a folder, it is a root keyform.yaml (settings,
organization and `include`) and one file per kind, split every CHUNK resources, so that no
file comes near the loader's size limit however large the organisation. Each kind's `export`
turns canonical attributes back into the shortest spec; the provider's `export_settings` gives its
`provider:` options (secrets as ${env:NAME} references).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from keyform.config.sizes import DEFAULT_MAX_BYTES
from keyform.contract import Kind, LiveResource, Provider
from keyform.errors import ExportWriteError

CHUNK = 5_000  # resources per written file
ROOT_NAME = "keyform.yaml"
HEADER = "# Exported by `keyform export`: the live state as desired state. No secrets are included.\n"


def export_document(
    live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider] | None = None
) -> dict[str, Any]:
    """The desired-state document for every live resource of the provider's kinds."""
    provider = provider or _provider(provider_type)
    document = _settings(live, provider_type, provider)
    for kind in provider.kinds:
        entries = _entries(live, kind)
        if entries:
            document[kind.name] = entries
    return document


def export_yaml(live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider] | None = None) -> str:
    return HEADER + _dump(export_document(live, provider_type, provider))


def export_files(
    live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider] | None = None
) -> dict[str, str]:
    """File name -> text: keyform.yaml including one file per kind (`roles.yaml`, or `users-1.yaml`,
    `users-2.yaml`... past CHUNK resources), each under the size limit; singletons stay in the root."""
    provider = provider or _provider(provider_type)
    files: dict[str, str] = {}
    for kind in provider.kinds:
        if kind.singleton:
            continue
        entries = _entries(live, kind)
        names = list(entries)
        texts = [
            text
            for start in range(0, len(names), CHUNK)
            for text in _texts(kind.name, entries, names[start : start + CHUNK])
        ]
        width = len(str(len(texts)))
        for number, text in enumerate(texts, start=1):
            files[f"{kind.name}.yaml" if len(texts) == 1 else f"{kind.name}-{number:0{width}d}.yaml"] = text
    root = _settings(live, provider_type, provider)
    if files:
        root["include"] = list(files)
    return {ROOT_NAME: HEADER + _dump(root), **files}


def _provider(provider_type: str) -> type[Provider]:
    from keyform.providers.registry import provider_class

    return provider_class(provider_type)


def _texts(kind: str, entries: dict[str, Any], names: list[str]) -> list[str]:
    """The files holding `names`: one, or (for unusually large entries) halves until each fits the limit."""
    text = HEADER + _dump({kind: {name: entries[name] for name in names}})
    if len(names) == 1 or len(text.encode()) <= DEFAULT_MAX_BYTES:
        return [text]
    middle = len(names) // 2
    return _texts(kind, entries, names[:middle]) + _texts(kind, entries, names[middle:])


def _settings(live: Mapping[str, LiveResource], provider_type: str, provider: type[Provider]) -> dict[str, Any]:
    """`version`, `provider` and the singleton kinds (they stay in the root file)."""
    document: dict[str, Any] = {"version": 1, "provider": {"type": provider_type, **provider.export_settings()}}
    for kind in provider.kinds:
        resource = live.get(kind.name) if kind.singleton else None
        if resource is not None:
            document[kind.name] = kind.export(resource.attributes)
    return document


def _entries(live: Mapping[str, LiveResource], kind: Kind) -> dict[str, Any]:
    """Name -> exported spec of every live resource of a (non-singleton) kind, by name."""
    if kind.singleton:
        return {}
    prefix = kind.name + "/"
    return {
        address[len(prefix) :]: kind.export(live[address].attributes)
        for address in sorted(live)
        if address.startswith(prefix)
    }


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: the same YAML, several times faster


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=120)


def write_files(folder: Path, files: Mapping[str, str], *, force: bool = False) -> None:
    """Write `files` into `folder`; unless `force`, refuse before writing anything if one exists."""
    from keyform.secrets.file_sink import write_text_atomic

    existing = [name for name in files if (folder / name).exists()]
    if existing and not force:
        shown = ", ".join(str(folder / name) for name in existing)
        raise ExportWriteError(f"export would overwrite {shown}", existing=len(existing))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            write_text_atomic(folder / name, text)
    except OSError as error:
        raise ExportWriteError(f"can't write the export to {folder} ({error.strerror})") from None
