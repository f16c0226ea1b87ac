"""Load and validate the desired state: YAML files with positions, includes, `${env:NAME}`
references, the JSON Schema and semantic checks, building a `keyform.model.DesiredState`."""

from __future__ import annotations

from keyform.config.load import load_desired_state
from keyform.config.root import find_root
from keyform.config.schema import schema_document

__all__ = ["find_root", "load_desired_state", "schema_document"]
