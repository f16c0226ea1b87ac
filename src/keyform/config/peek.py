"""Read just the root file's `provider:` section, so the live read can start while the rest loads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keyform.config.document import Document
from keyform.config.envref import resolve_section
from keyform.config.yaml_loader import MAX_BYTES, top_level_value
from keyform.model import PluginConfig


def peek_provider(root: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The `provider:` mapping with references resolved, or None if anything is off (the full
    load that follows reports every problem with its position)."""
    try:
        if root.stat().st_size > MAX_BYTES:
            return None
        text = root.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    section = top_level_value(text, str(root), "provider")
    if not isinstance(section, dict):
        return None
    document = Document(path=root, display=str(root), data={"provider": section})
    provider, problems = resolve_section(document, "provider", environ, resolve=True)
    return provider if not problems else None


def peek_provider_settings(root: Path, environ: Mapping[str, str]) -> PluginConfig | None:
    """The provider settings (`type` and options) of the root file alone, or None (see `peek_provider`)."""
    peeked = peek_provider(root, environ)
    if peeked is None or not isinstance(peeked.get("type"), str):
        return None
    return PluginConfig(peeked["type"], {key: value for key, value in peeked.items() if key != "type"})
