"""Secret sinks and redaction."""

from __future__ import annotations

from pathlib import Path

from keyform.errors import SecretSinkError
from keyform.model import PluginConfig
from keyform.secrets.base import SecretSink


def make_sink(config: PluginConfig, base_dir: Path) -> SecretSink:
    """Build the sink the `secrets:` section names; relative paths resolve beside keyform.yaml."""
    if config.type == "file":
        from keyform.secrets.file_sink import FileSink

        path = Path(config.options.get("path", ".keyform/secrets.json"))
        return FileSink(path if path.is_absolute() else base_dir / path)
    where = f" ({config.location})" if config.location else ""
    raise SecretSinkError(f"secrets.type {config.type!r}{where} is not available yet: use type: file")
