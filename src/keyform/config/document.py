"""A loaded desired-state file: plain data plus where every key and value was written."""

from __future__ import annotations

from collections.abc import Callable
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


Positions = dict[DataPath, Location]


@dataclass(eq=False)
class Document:
    """One file's data (JSON-like: dict, list, str, int, float, bool, None) and where it was written.

    Positions cost as much as the data to record and are needed only to report a problem, so the
    loader records just the top-level keys and `locate` computes the rest on first use.
    """

    path: Path | None
    display: str
    data: Any = None
    is_root: bool = True
    text: str = field(default="", repr=False)  # the file's text as read
    top: Positions = field(default_factory=dict)  # () and (key,): where the root value and its keys are written
    locate: Callable[[], tuple[Positions, Positions]] | None = field(default=None, repr=False)
    _positions: tuple[Positions, Positions] | None = field(default=None, init=False, repr=False)

    @property
    def keys(self) -> Positions:
        """Path -> where its key is written (computed on first use)."""
        return self._located()[0]

    @property
    def values(self) -> Positions:
        """Path -> where its value starts (computed on first use)."""
        return self._located()[1]

    def _located(self) -> tuple[Positions, Positions]:
        if self._positions is None:
            self._positions = self.locate() if self.locate is not None else ({}, {})
        return self._positions

    def start(self) -> Location:
        """Where the file's top-level value starts."""
        return self.top.get(()) or self.values.get((), Location(self.display, 1, 1))

    def value_location(self, path: DataPath) -> Location:
        """Where the value at `path` starts (or its nearest recorded ancestor)."""
        values = self.values
        for end in range(len(path), -1, -1):
            location = values.get(tuple(path[:end]))
            if location is not None:
                return location
        return self.start()

    def key_location(self, path: DataPath) -> Location:
        """Where the key of `path` is written; for list items and the root, where the value starts."""
        path = tuple(path)
        if len(path) == 1 and path in self.top:
            return self.top[path]
        return self.keys.get(path) or self.value_location(path)


@dataclass(eq=False)
class MergedDocument(Document):
    """The root file's settings and every file's resources; positions come from the file that
    defined each part, so merging copies none."""

    origins: dict[DataPath, Document] = field(default_factory=dict)  # () root, (key,), (section, name) -> file

    def _origin(self, path: DataPath) -> Document:
        path = tuple(path)
        return self.origins.get(path[:2]) or self.origins.get(path[:1]) or self.origins[()]

    def start(self) -> Location:
        return self.origins[()].start()

    def value_location(self, path: DataPath) -> Location:
        return self._origin(path).value_location(path)

    def key_location(self, path: DataPath) -> Location:
        return self._origin(path).key_location(path)
