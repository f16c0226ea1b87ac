"""One way to find plugins, for providers, sinks and renderers alike: built-in names first, then
the packages that register under an entry-point group.

Built-ins are found without reading the entry points, which means scanning every installed
package's metadata; a package can't register a plugin under a built-in name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyform.errors import KeyformError

if TYPE_CHECKING:
    from importlib import metadata


@dataclass(frozen=True, slots=True, kw_only=True)
class Registry:
    """Plugins of one sort: `built_in` maps a name to "module:attribute"; others register under `group`."""

    group: str  # the entry-point group, e.g. "keyform.providers"
    built_in: Mapping[str, str]
    unknown: Callable[[str, list[str]], KeyformError]  # the error for a name nothing provides (name, known)
    broken: Callable[[str, Exception], KeyformError]  # the error for a registered plugin that fails to import

    def names(self) -> list[str]:
        """Every name: the built-in ones and those registered under the group."""
        return sorted(self.built_in.keys() | {entry.name for entry in self._registered()})

    def provides(self, name: str) -> bool:
        return name in self.built_in or any(entry.name == name for entry in self._registered())

    def load(self, name: str) -> tuple[object, str]:
        """The object `name` names, and where it came from ("module:attribute")."""
        if name in self.built_in:
            module, _, attribute = self.built_in[name].partition(":")
            return getattr(importlib.import_module(module), attribute), self.built_in[name]
        matches = [entry for entry in self._registered() if entry.name == name]
        if not matches:
            raise self.unknown(name, self.names())
        try:
            return matches[0].load(), matches[0].value
        except (ImportError, AttributeError) as error:
            raise self.broken(name, error) from None

    def _registered(self) -> list[metadata.EntryPoint]:
        # imported here: importlib.metadata costs more than a built-in plugin's whole lookup
        from importlib import metadata

        return [entry for entry in metadata.entry_points(group=self.group) if entry.name not in self.built_in]
