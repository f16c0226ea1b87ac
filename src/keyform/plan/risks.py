"""Reviewer-facing risk annotations: who gains what (escalation) and what stops working (breaking).

The engine's own rules are generic: a delete and a replace break what uses the resource, and a
change of what a resource grants (its kind's `grants` plus the grants of the resources it
references) is an escalation when a gained grant is sensitive and breaking when a grant is lost.
The provider adds its kinds' own risks (`Provider.risks`, deletes included, and
`Provider.rotation_risks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keyform.contract import Action, Change, Kind, Provider, Risk, RiskCategory, kind_of
from keyform.plan.lookalikes import describe, lookalike_characters, looks_like


@dataclass(frozen=True)
class Sides:
    """Attributes by address before (live) and after (desired) the plan, to resolve what a
    referenced resource (a role) grants."""

    before: Mapping[str, Mapping[str, Any]]
    after: Mapping[str, Mapping[str, Any]]


def assess(
    changes: Iterable[Change], provider: Provider, sides: Sides, holders: Mapping[str, list[str]]
) -> list[tuple[Risk, ...]]:
    """The risks of each change, in order."""
    kinds = type(provider).kinds
    before, after = _Grants(sides.before, kinds, provider), _Grants(sides.after, kinds, provider)
    return [tuple(_risks(change, provider, before, after, holders)) for change in changes]


def holders_of(kinds: Sequence[Kind], resources: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Referenced address -> the addresses that reference it (e.g. a role -> who holds it)."""
    holders: dict[str, list[str]] = {}
    by_name = {kind.name: kind for kind in kinds}
    for address, attributes in resources.items():
        kind = by_name.get(address.partition("/")[0])
        if kind is None or not kind.references:
            continue
        for attribute, target_name in kind.references.items():
            target = by_name.get(target_name)
            for name in _names(attributes.get(attribute)):
                if target is not None:
                    holders.setdefault(target.address(name), []).append(address)
    return holders


class _Grants:
    """What resources grant on one side of a plan; each referenced resource and grant is worked out once."""

    def __init__(self, resources: Mapping[str, Mapping[str, Any]], kinds: Sequence[Kind], provider: Provider) -> None:
        self._resources = resources
        self._kinds = {kind.name: kind for kind in kinds}
        self._provider = provider
        self._of_target: dict[str, frozenset[str]] = {}
        self._sensitive: dict[str, bool] = {}

    def of(self, kind: Kind | None, attributes: Mapping[str, Any] | None) -> frozenset[str] | set[str]:
        """Effective grants: the resource's own and those of the resources it references."""
        if not attributes or kind is None:
            return frozenset()
        result = set(kind.grants(attributes)) if kind.grants is not None else set()
        for attribute, target_name in kind.references.items():
            target = self._kinds.get(target_name)
            if target is None or target.grants is None:
                continue
            for name in _names(attributes.get(attribute)):
                result |= self._target(target, name)
        return result

    def _target(self, target: Kind, name: str) -> frozenset[str]:
        address = target.address(name)
        granted = self._of_target.get(address)
        if granted is None:
            attributes = self._resources.get(address)
            grants = target.grants
            granted = self._of_target[address] = grants(attributes) if attributes and grants else frozenset()
        return granted

    def escalating(self, gained: Iterable[str]) -> list[str]:
        """The gained grants that count as escalation, sorted."""
        escalating = [grant for grant in gained if self._is_sensitive(grant)]
        if len(escalating) > 1:
            escalating.sort()
        return escalating

    def _is_sensitive(self, grant: str) -> bool:
        sensitive = self._sensitive.get(grant)
        if sensitive is None:
            sensitive = self._sensitive[grant] = self._provider.sensitive(grant)
        return sensitive


def _risks(
    change: Change, provider: Provider, before_side: _Grants, after_side: _Grants, holders: Mapping[str, list[str]]
) -> list[Risk]:
    action, address, before, after = change.action, change.address, change.before, change.after
    if action == Action.ROTATE:
        return provider.rotation_risks(change)
    if action == Action.FORGET:
        return []  # nothing changes but who manages it
    kind = kind_of(type(provider), change.kind)
    if action == Action.DELETE:
        successor = change.details.get("moved_to")  # a `moved:` entry whose kind can't be renamed
        instead = f", {change.reason}: its secret stops working" if successor else ""
        held = _what_it_held(before_side.of(kind, before))
        return [Risk(RiskCategory.BREAKING, f"deletes {address}{held}{instead}"), *provider.risks(change)]
    risks = _lookalike_risks(change, kind)
    if action == Action.REPLACE:
        risks.append(Risk(RiskCategory.BREAKING, f"replaces {address}: its id and secret change"))
    granted_before, granted_after = before_side.of(kind, before), after_side.of(kind, after)
    gained, lost = granted_after - granted_before, granted_before - granted_after
    escalating = after_side.escalating(gained)
    subject = address
    who = holders.get(address) if holders else None
    if who:
        subject = f"{address} (held by {len(who)}: {', '.join(who[:5])}{', ...' if len(who) > 5 else ''})"
    if escalating:
        risks.append(Risk(RiskCategory.ESCALATION, f"{subject} gains {', '.join(escalating)}"))
    if lost and action != Action.CREATE:
        risks.append(Risk(RiskCategory.BREAKING, f"{subject} loses {', '.join(sorted(lost))}"))
    risks += provider.risks(change)
    return risks


def _what_it_held(grants: Iterable[str]) -> str:
    """What a deleted resource granted, so a reviewer knows what goes: " (it held a, b)"."""
    held = sorted(grants)
    return f" (it held {', '.join(held)})" if held else ""


def _names(value: Any) -> Iterable[str]:
    """The names a reference attribute holds: one string or a list of them."""
    if isinstance(value, str):
        return (value,)
    return value or ()


def _lookalike_risks(change: Change, kind: Kind | None) -> list[Risk]:
    """A name that reads as another one: flagged when the plan brings that resource in (create,
    adopt, replace), for every kind, since any identity's name can be spoofed."""
    if change.action not in (Action.CREATE, Action.ADOPT, Action.REPLACE) or change.name.isascii():
        return []
    characters = lookalike_characters(change.name)
    if not characters:
        return []
    plain = looks_like(change.name, characters)
    seen = f"looks like {plain} but " if plain != change.name else ""
    what = "email" if "@" in change.name else "name"
    noun = kind.noun if kind is not None and kind.noun else "resource"
    return [
        Risk(
            RiskCategory.LOOKALIKE,
            f"{change.address}: {what} mixes scripts or lookalike characters"
            f" ({', '.join(map(describe, characters))}): it {seen}is a different {noun}",
        )
    ]
