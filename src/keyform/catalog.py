"""The reference catalog of data modules and employee attributes.

`keyform server` serves it at `/v1/catalog`; the `keyform` provider validates desired state
against it. Other providers bring their own catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACCESS_LEVELS = ("read", "write")


def canonical_permissions(permissions: Mapping[str, Any]) -> dict[str, list[str]]:
    """Sorted modules, each with its access levels in (read, write) order; empty ones dropped."""
    return {
        module: [level for level in ACCESS_LEVELS if level in levels]
        for module, levels in sorted(permissions.items())
        if levels
    }


@dataclass(frozen=True)
class Catalog:
    """Which modules exist (and which are read only) and which attributes exist (and which are sensitive)."""

    modules: dict[str, bool]  # name -> read_only
    attributes: dict[str, bool]  # name -> sensitive

    def is_read_only(self, module: str) -> bool:
        return self.modules[module]

    def is_sensitive(self, attribute: str) -> bool:
        return self.attributes.get(attribute, False)


REFERENCE_CATALOG = Catalog(
    modules={
        "employees": False,
        "attendances": False,
        "absences": False,
        "documents": False,
        "custom_reports": True,
    },
    attributes={
        "first_name": False,
        "last_name": False,
        "email": False,
        "department": False,
        "position": False,
        "office": False,
        "supervisor": False,
        "hire_date": False,
        "employment_type": False,
        "weekly_hours": False,
        "birthday": True,
        "salary": True,
        "iban": True,
        "social_security_number": True,
    },
)
