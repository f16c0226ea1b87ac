"""A loaded desired-state file: plain data plus where every key and value was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyform.config.hints import printable
from keyform.errors import Location

DataPath = tuple[str | int, ...]
"""A path into the data: mapping keys and list indices, e.g. ("roles", "hr-reader", "attributes", 0)."""


def display_path(path: Path) -> str:
    """`path` relative to the current directory when it is under it, else absolute."""
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        return str(resolved)
    return str(relative) if str(relative) != "" else "."


def dotted(path: DataPath) -> str:
    """Render a data path the way messages show it: `roles.hr-reader.attributes[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = printable(str(part))
            text += f".{part}" if text else part
    return text


@dataclass
class Document:
    """One file's data (JSON-like: dict, list, str, int, float, bool, None) with positions."""

    path: Path
    display: str
    data: Any = None
    values: dict[DataPath, Location] = field(default_factory=dict)  # path -> where its value starts
    keys: dict[DataPath, Location] = field(default_factory=dict)  # path -> where its key is written
    is_root: bool = True

    def start(self) -> Location:
        return self.values.get((), Location(self.display, 1, 1))

    def value_location(self, path: DataPath) -> Location:
        """Where the value at `path` starts (or its nearest recorded ancestor)."""
        for end in range(len(path), -1, -1):
            location = self.values.get(tuple(path[:end]))
            if location is not None:
                return location
        return self.start()

    def key_location(self, path: DataPath) -> Location:
        """Where the key of `path` is written; for list items and the root, where the value starts."""
        return self.keys.get(tuple(path)) or self.value_location(path)
