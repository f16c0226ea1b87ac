"""Effective access per identity: who gains and who loses what through a plan.

An identity is a resource of a kind that references a kind with grants (users and credentials
holding roles), or of a kind with grants of its own that no kind references. Its effective access
is its own grants plus the grants of the resources it references. A plan changes it directly (the
identity itself changes, is created or deleted) or through a referenced resource (a role gains
`salary`: every holder gains it, managed or not). Everything here is generic: the kinds say what
grants what, the provider says which grants are sensitive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from keyform.contract import Action, Change, Kind, LiveResource

Attributes = Mapping[str, Any]


class Grant(NamedTuple):
    """One grant gained, lost or held, whether the provider calls it sensitive, and the addresses
    of the changes it comes through (empty for what an unmanaged identity holds)."""

    grant: str
    sensitive: bool
    through: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"grant": self.grant, "sensitive": self.sensitive, "through": list(self.through)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        return cls(str(data["grant"]), bool(data.get("sensitive", False)), tuple(data.get("through", ())))


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityAccess:
    """How one identity's effective access changes: what it gains and loses, and why."""

    address: str
    change: str = ""  # the identity's own change ("update", "delete", ...); "": only through others
    managed: bool = True
    gains: tuple[Grant, ...] = ()
    losses: tuple[Grant, ...] = ()
    live_secret: str | None = None  # the id of its live secret, which acts with the new access at once

    @property
    def escalates(self) -> bool:
        return any(grant.sensitive for grant in self.gains)

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change or None,
            "managed": self.managed,
            "gains": [grant.to_dict() for grant in self.gains],
            "losses": [grant.to_dict() for grant in self.losses],
            "live_secret": self.live_secret,
        }

    @classmethod
    def from_dict(cls, address: str, data: Mapping[str, Any]) -> IdentityAccess:
        return cls(
            address=address,
            change=data.get("change") or "",
            managed=bool(data.get("managed", True)),
            gains=tuple(Grant.from_dict(item) for item in data.get("gains", ())),
            losses=tuple(Grant.from_dict(item) for item in data.get("losses", ())),
            live_secret=data.get("live_secret"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmanagedAccess:
    """What a live identity keyform does not manage holds (after the plan), and whether it
    counts as drift (`safety.unmanaged_is_drift`)."""

    address: str
    holds: tuple[Grant, ...] = ()
    drift: bool = False

    @property
    def privileged(self) -> bool:
        return any(grant.sensitive for grant in self.holds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "holds": [{"grant": grant.grant, "sensitive": grant.sensitive} for grant in self.holds],
            "privileged": self.privileged,
            "drift": self.drift,
        }

    @classmethod
    def from_dict(cls, address: str, data: Mapping[str, Any]) -> UnmanagedAccess:
        holds = tuple(Grant.from_dict(item) for item in data.get("holds", ()))
        return cls(address=address, holds=holds, drift=bool(data.get("drift", False)))


def identity_kinds(kinds: Sequence[Kind]) -> dict[str, Kind]:
    """The kinds whose resources act with access: they reference a kind with grants, or have
    grants of their own and are referenced by no kind."""
    granting = {kind.name for kind in kinds if kind.grants is not None}
    referenced = {target for kind in kinds for target in kind.references.values()}
    return {
        kind.name: kind
        for kind in kinds
        if not kind.singleton
        and (
            any(target in granting for target in kind.references.values())
            or (kind.grants is not None and kind.name not in referenced)
        )
    }


class _Side:
    """Attributes by address on one side of the plan (live, or live with the plan's changes)."""

    def __init__(self, kinds: Sequence[Kind], attributes: Callable[[str], Attributes | None]) -> None:
        self._kinds = {kind.name: kind for kind in kinds}
        self._attributes = attributes
        self._granted: dict[str, frozenset[str]] = {}

    def attributes(self, address: str) -> Attributes | None:
        return self._attributes(address)

    def sources(self, kind: Kind, address: str) -> dict[str, frozenset[str]]:
        """Where an identity's access comes from: itself and each resource it references -> grants."""
        attributes = self._attributes(address)
        if attributes is None:
            return {}
        sources = {address: kind.grants(attributes) if kind.grants is not None else frozenset()}
        for attribute, target_name in kind.references.items():
            target = self._kinds.get(target_name)
            if target is None or target.grants is None:
                continue
            for name in _names(attributes.get(attribute)):
                sources[target.address(name)] = self._grants_of(target, target.address(name))
        return sources

    def referenced(self, kind: Kind, address: str) -> set[str]:
        attributes = self._attributes(address) or {}
        return {
            self._kinds[target].address(name)
            for attribute, target in kind.references.items()
            if target in self._kinds
            for name in _names(attributes.get(attribute))
        }

    def _grants_of(self, kind: Kind, address: str) -> frozenset[str]:
        granted = self._granted.get(address)
        if granted is None:
            attributes = self._attributes(address)
            grants = kind.grants
            granted = self._granted[address] = grants(attributes) if attributes and grants else frozenset()
        return granted


def _names(value: Any) -> Iterable[str]:
    """The names a reference attribute holds: one string or a list of them."""
    if isinstance(value, str):
        return (value,)
    return value or ()


def sides(
    changes: Sequence[Change], live: Mapping[str, LiveResource], kinds: Sequence[Kind]
) -> tuple[_Side, _Side, dict[str, Change]]:
    """The live side, the side after the plan, and the access-relevant change at each address."""
    changed = {change.address: change for change in changes if change.action != Action.ROTATE}

    def before(address: str) -> Attributes | None:
        resource = live.get(address)
        return resource.attributes if resource is not None else None

    def after(address: str) -> Attributes | None:
        change = changed.get(address)
        if change is None:
            return before(address)
        if change.action == Action.DELETE:
            return None
        return {**(before(address) or {}), **(change.after or {})}

    return _Side(kinds, before), _Side(kinds, after), changed


def effective_access(
    changes: Sequence[Change],
    live: Mapping[str, LiveResource],
    kinds: Sequence[Kind],
    sensitive: Callable[[str], bool],
) -> tuple[IdentityAccess, ...]:
    """Every identity whose effective access the plan changes, by address, with each gain and loss."""
    identities = identity_kinds(kinds)
    if not identities or not changes:
        return ()
    before, after, changed = sides(changes, live, kinds)
    affected = {address for address in changed if address.partition("/")[0] in identities}
    sources = {address for address in changed if address.partition("/")[0] not in identities}
    if sources:
        candidates = set(live) | {a for a in changed if changed[a].action != Action.DELETE}
        for address in candidates:
            kind = identities.get(address.partition("/")[0])
            if kind is not None and (before.referenced(kind, address) | after.referenced(kind, address)) & sources:
                affected.add(address)
    result = []
    for address in sorted(affected):
        kind = identities[address.partition("/")[0]]
        access = _access(address, kind, before, after, changed, live, sensitive)
        if access is not None:
            result.append(access)
    return tuple(result)


def _access(
    address: str,
    kind: Kind,
    before: _Side,
    after: _Side,
    changed: Mapping[str, Change],
    live: Mapping[str, LiveResource],
    sensitive: Callable[[str], bool],
) -> IdentityAccess | None:
    was, now = before.sources(kind, address), after.sources(kind, address)
    held_before = frozenset().union(*was.values())
    held_after = frozenset().union(*now.values())
    gained, lost = held_after - held_before, held_before - held_after
    if not gained and not lost:
        return None
    own = changed.get(address)
    resource = live.get(address)
    return IdentityAccess(
        address=address,
        change=str(own.action) if own is not None else "",
        managed=(own is not None and own.action != Action.DELETE) or (resource is not None and resource.managed),
        gains=tuple(
            Grant(grant, sensitive(grant), _through(grant, address, now, was, changed)) for grant in sorted(gained)
        ),
        losses=tuple(
            Grant(grant, sensitive(grant), _through(grant, address, was, now, changed)) for grant in sorted(lost)
        ),
        live_secret=_kept_secret(resource, own),
    )


def _kept_secret(resource: LiveResource | None, own: Change | None) -> str | None:
    """The id of the identity's newest live secret if it stays (not deleted or replaced)."""
    if resource is None or not resource.secrets:
        return None
    if own is not None and own.action not in (Action.UPDATE, Action.ADOPT):
        return None
    return resource.secrets[-1].id


def _through(
    grant: str,
    address: str,
    side: Mapping[str, frozenset[str]],
    other: Mapping[str, frozenset[str]],
    changed: Mapping[str, Change],
) -> tuple[str, ...]:
    """The changes a grant gained (or lost) comes through: the identity's own change when it is
    the identity's own grant or it took up (or dropped) the referenced resource; else the change
    of the referenced resource that grants it."""
    through = set()
    for source, grants in side.items():
        if grant not in grants:
            continue
        if source == address or source not in other:
            if address in changed:
                through.add(address)
        elif source in changed:
            through.add(source)
    if not through:  # e.g. the grant moved from one referenced resource to another: name every change
        through = {source for source in (*side, *other) if source in changed}
    return tuple(sorted(through))


def unmanaged_access(
    unmanaged: Iterable[str],
    changes: Sequence[Change],
    live: Mapping[str, LiveResource],
    kinds: Sequence[Kind],
    sensitive: Callable[[str], bool],
    drift: bool | str,
) -> tuple[UnmanagedAccess, ...]:
    """What each unmanaged live identity holds once the plan is applied; `drift`: the setting
    `safety.unmanaged_is_drift` (true: every one counts, "privileged": those with a sensitive grant)."""
    identities = identity_kinds(kinds)
    _, after, _ = sides(changes, live, kinds)
    result = []
    for address in unmanaged:
        kind = identities.get(address.partition("/")[0])
        if kind is None:
            continue
        held = frozenset().union(*after.sources(kind, address).values())
        holds = tuple(Grant(grant, sensitive(grant)) for grant in sorted(held))
        privileged = any(grant.sensitive for grant in holds)
        counts = drift is True or (drift == "privileged" and privileged)
        result.append(UnmanagedAccess(address=address, holds=holds, drift=counts))
    return tuple(result)
