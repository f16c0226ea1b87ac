"""Load and validate the desired state: YAML files with positions, includes, `${env:NAME}`
references, the JSON Schema and semantic checks, building a `keyform.model.DesiredState`."""

from keyform.config.load import find_root, load_desired_state
from keyform.config.schema import schema_document

__all__ = ["find_root", "load_desired_state", "schema_document"]
