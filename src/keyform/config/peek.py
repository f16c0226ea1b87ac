"""Read just the root file's `provider:` section, so the live read can start while the rest loads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from keyform.config.document import Document
from keyform.config.envref import resolve_section
from keyform.config.yaml_loader import MAX_BYTES, _EventBuilder
from keyform.config.yaml_loader import events as parser_events


def peek_provider(root: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The `provider:` mapping with references resolved, or None if anything is off.

    Never raises: the full load that follows reports every problem with its position.
    """
    try:
        if root.stat().st_size > MAX_BYTES:
            return None
        text = root.read_text(encoding="utf-8")
        builder = _EventBuilder(str(root))
        events = parser_events(text)
        for event in events:
            if isinstance(event, yaml.MappingStartEvent):
                break
        for key in events:
            if not isinstance(key, yaml.ScalarEvent):
                return None
            value = next(events)
            if key.value != "provider":
                builder.skip_value(value, events, 1)
                continue
            document = Document(path=root, display=str(root), data={"provider": builder.value(value, events, (), 2)})
            provider, problems = resolve_section(document, "provider", environ, resolve=True)
            return provider if not problems and not builder.problems else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, StopIteration):
        return None
    except Exception:  # an optimisation must never turn into an error of its own
        return None
    return None
