"""Keystone attribute forms that need no connection (kinds.py and cloud.py share them).

Times are `YYYY-MM-DDTHH:MM:SSZ` in UTC, access rules `{service, method, path}` sorted by service,
path and method, and a credential's roles only those no other listed role implies (Keystone adds
the implied ones to the credential itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def expiry(value: str | None) -> str | None:
    """Keystone's `2027-01-01T00:00:00.000000` (or a YAML `2027-01-01T02:00:00+02:00`) as `2027-01-01T00:00:00Z`."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).removesuffix("Z"))
    return (moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)).strftime(TIME_FORMAT)


def access_rules(rules: Iterable[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    canonical = [{"service": r["service"], "method": r["method"], "path": r["path"]} for r in rules or ()]
    return sorted(canonical, key=lambda r: (r["service"], r["path"], r["method"]))


def implied_by(roles: Iterable[str], implies: Mapping[str, Iterable[str]]) -> set[str]:
    """Every role the given roles imply, directly or through others (not the roles themselves)."""
    implied: set[str] = set()
    todo = [name for role in roles for name in implies.get(role, ())]
    while todo:
        name = todo.pop()
        if name not in implied:
            implied.add(name)
            todo.extend(implies.get(name, ()))
    return implied


def minimal_roles(roles: set[str], implies: Mapping[str, Iterable[str]]) -> list[str]:
    """The roles not implied by another one in the set (Keystone adds implied roles to a credential)."""
    return sorted(roles - implied_by(roles, implies))
