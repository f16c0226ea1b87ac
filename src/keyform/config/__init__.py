"""Load and validate the desired state: YAML files with positions, includes, `${env:NAME}`
references, the JSON Schema and semantic checks, building a `keyform.model.DesiredState`.

The names below are imported on first use, so that importing one light submodule (the provider
peek, which lets a plan start its live read early) doesn't load the whole loader.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyform.config.load import load_desired_state
    from keyform.config.root import find_root
    from keyform.config.schema import schema_document

__all__ = ["find_root", "load_desired_state", "schema_document"]
_HOMES = {
    "find_root": "keyform.config.root",
    "load_desired_state": "keyform.config.load",
    "schema_document": "keyform.config.schema",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
