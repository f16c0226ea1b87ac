"""Live state -> desired-state YAML that validates and plans to zero changes (secrets never included).

Printed, the export is one document. Written to a folder, it is a root keyform.yaml (settings,
organization and `include`) and one file per kind, split every CHUNK resources, so that no
file comes near the loader's size limit however large the organisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from keyform.config.sizes import DEFAULT_MAX_BYTES
from keyform.errors import KeyformError
from keyform.providers.base import LiveResource

CHUNK = 5_000  # resources per written file
ROOT_NAME = "keyform.yaml"
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
    document = _settings(live, provider_type)
    for kind, entries in _sections(live).items():
        if entries:
            document[kind] = entries
    return document


def export_yaml(live: Mapping[str, LiveResource], provider_type: str) -> str:
    return HEADER + _dump(export_document(live, provider_type))


def export_files(live: Mapping[str, LiveResource], provider_type: str) -> dict[str, str]:
    """File name -> text: keyform.yaml including `roles.yaml`, `users.yaml`, `credentials.yaml`
    (or `users-01.yaml`, `users-02.yaml`... past CHUNK resources), each under the size limit."""
    files: dict[str, str] = {}
    for kind, entries in _sections(live).items():
        names = list(entries)
        texts = [
            text
            for start in range(0, len(names), CHUNK)
            for text in _texts(kind, entries, names[start : start + CHUNK])
        ]
        width = len(str(len(texts)))
        for number, text in enumerate(texts, start=1):
            files[f"{kind}.yaml" if len(texts) == 1 else f"{kind}-{number:0{width}d}.yaml"] = text
    root = _settings(live, provider_type)
    if files:
        root["include"] = list(files)
    return {ROOT_NAME: HEADER + _dump(root), **files}


def _texts(kind: str, entries: dict[str, Any], names: list[str]) -> list[str]:
    """The files holding `names`: one, or (for unusually large entries) halves until each fits the limit."""
    text = HEADER + _dump({kind: {name: entries[name] for name in names}})
    if len(names) == 1 or len(text.encode()) <= DEFAULT_MAX_BYTES:
        return [text]
    middle = len(names) // 2
    return _texts(kind, entries, names[:middle]) + _texts(kind, entries, names[middle:])


def _settings(live: Mapping[str, LiveResource], provider_type: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": 1,
        "provider": {"type": provider_type, "url": "${env:KEYFORM_URL}", "token": "${env:KEYFORM_TOKEN}"},
    }
    organization = live.get("organization")
    if organization is not None:
        document["organization"] = dict(organization.attributes)
    return document


def _sections(live: Mapping[str, LiveResource]) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {"roles": {}, "users": {}, "credentials": {}}
    for address in sorted(live):
        kind, _, name = address.partition("/")
        if kind in sections:
            sections[kind][name] = _entry(kind, live[address].attributes)
    return sections


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: the same YAML, several times faster


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=120)


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


def write_files(folder: Path, files: Mapping[str, str], *, force: bool = False) -> None:
    """Write `files` into `folder`; unless `force`, refuse before writing anything if one exists."""
    from keyform.secrets.file_sink import write_text_atomic

    existing = [name for name in files if (folder / name).exists()]
    if existing and not force:
        shown = ", ".join(str(folder / name) for name in existing)
        raise KeyformError(
            f"export would overwrite {shown}: pass --force to replace {'it' if len(existing) == 1 else 'them'},"
            " or choose another --out folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            write_text_atomic(folder / name, text)
    except OSError as error:
        raise KeyformError(
            f"can't write the export to {folder} ({error.strerror}): choose another --out folder"
        ) from None
