"""The planning pipeline: live state -> diff -> risks -> targets -> Plan."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from keyform import __version__
from keyform.contract import Action, Change, Kind, LiveResource, Provider, Risk, Step
from keyform.errors import AddressError, KeyformError
from keyform.model import DesiredState
from keyform.plan.access import IdentityAccess, UnmanagedAccess, effective_access, unmanaged_access
from keyform.plan.diff import diff
from keyform.plan.plan import ApplyOrder, Plan
from keyform.plan.risks import Sides, assess, holders_of


@dataclass(frozen=True)
class PlanResult:
    """A plan and the live state it was made against (safety checks need both)."""

    plan: Plan
    live: Mapping[str, LiveResource]
    declared: Collection[str] = ()  # every declared address
    targets: Collection[str] = ()  # --target addresses; empty: the whole state was planned

    @cached_property
    def checked(self) -> frozenset[str]:
        """Every address compared: declared ones and managed live ones (within the targets, if any)."""
        checked = set(self.declared) | {a for a, r in self.live.items() if r.managed and "/" in a}
        if self.targets:
            checked &= set(self.targets)
        return frozenset(checked)


def make_plan(
    state: DesiredState,
    provider: Provider,
    *,
    targets: Collection[str] = (),
    replace: Collection[str] = (),
    reissue: Collection[str] = (),
    forget: Collection[str] = (),
    destroy: bool = False,
    now: datetime | None = None,
    live: Mapping[str, LiveResource] | None = None,
) -> PlanResult:
    """Read the live state once (unless given, already read) and build the Plan to the desired state
    (with `destroy`: to no managed resource at all, every managed one deleted; singletons stay)."""
    if destroy:
        state = dataclasses.replace(state, declared={}, secret_policies={}, locations={})
    _check_addresses(state, targets, replace)
    now = now or datetime.now(UTC)
    live = provider.read() if live is None else live
    if forget:
        _check_forget(state, provider, forget, live)
    if state.removed and not type(provider).releases():
        raise KeyformError(f"removed: {provider.describe()} can't stop managing without deleting: delete the entries")
    forget = {*forget, *state.removed}  # `removed:` entries: forgotten when live and managed, else nothing
    if targets:
        _check_targets_exist(targets, state.resource_map.keys(), live.keys())
    moved, not_live = ({}, {}) if destroy else _moves(state, live)
    kinds = type(provider).kinds
    result = diff(
        state,
        live,
        kinds,
        replace=set(replace),
        reissue=set(reissue),
        forget=set(forget),
        removed_reason="destroy: every managed resource is deleted" if destroy else "removed from the desired state",
        moved=moved,
        now=now,
    )
    changes = [_with_live_secret(_noted(change, not_live), live) for change in result.changes]
    if changes:
        referenced = _referenced(kinds)
        sides = Sides(before=_LiveAttributes(live), after=state.resource_map)
        held = any(change.kind in referenced for change in changes)
        holders = holders_of(kinds, state.resource_map) if held else {}
        risks = assess(changes, provider, sides, holders)
        changes = [
            _annotated(change, change_risks, provider.generates_secret(change), provider.manual_steps(change))
            for change, change_risks in zip(changes, risks, strict=True)
        ]
    if targets:
        changes = _targeted(changes, set(targets), kinds)
    access, unmanaged, drift = _access(changes, result.unmanaged, live, provider, state)
    meta = {
        "target": provider.describe(),
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "keyform_version": __version__,
        "targets": sorted(targets),
        "replace": sorted(replace),
        **({"forget": sorted(forget)} if forget else {}),
        **({"destroy": True} if destroy else {}),
    }
    plan = Plan.from_changes(
        changes,
        result.unmanaged,
        meta,
        order=ApplyOrder.of(provider),
        access=access,
        unmanaged_access=unmanaged,
        drift=drift,
    )
    return PlanResult(plan, live, declared=state.resource_map.keys(), targets=frozenset(targets))


def _access(
    changes: Sequence[Change],
    unmanaged: Sequence[str],
    live: Mapping[str, LiveResource],
    provider: Provider,
    state: DesiredState,
) -> tuple[tuple[IdentityAccess, ...], tuple[UnmanagedAccess, ...], list[str]]:
    """Effective access per identity the (targeted) changes bring, what unmanaged identities
    hold, and the unmanaged addresses that count as drift."""
    kinds, sensitive = type(provider).kinds, provider.sensitive
    access = effective_access(changes, live, kinds, sensitive)
    setting = state.safety.unmanaged_is_drift
    found = unmanaged_access(unmanaged, changes, live, kinds, sensitive, setting) if unmanaged else ()
    drift = list(unmanaged) if setting is True else [item.address for item in found if item.drift]
    return access, found, drift


def _moves(state: DesiredState, live: Mapping[str, LiveResource]) -> tuple[dict[str, str], dict[str, str]]:
    """The `moved:` entries to carry out (declared address -> live address it is renamed from) and
    those whose `from` is not live while `to` is not either (to -> from: a plain create, noted).
    An entry whose `to` is live and `from` is not was carried out already: nothing to do."""
    moved: dict[str, str] = {}
    not_live: dict[str, str] = {}
    for move in state.moved:
        source, target = live.get(move.source), live.get(move.target)
        if source is not None and target is not None:
            where = f"{move.location}: " if move.location is not None else ""
            raise KeyformError(
                f"{where}moved {move}: both are live (ids {source.id} and {target.id}), so keyform can't tell "
                f"which to keep: delete the entry to keep {move.target} (and delete {move.source}), or delete "
                f"{move.target} outside keyform to rename {move.source}"
            )
        if source is not None:
            moved[move.target] = move.source
        elif target is None:
            not_live[move.target] = move.source
    return moved, not_live


def _noted(change: Change, not_live: Mapping[str, str]) -> Change:
    """A create at the `to` of a move whose `from` is not live says so (a typo in `from`?)."""
    source = not_live.get(change.address)
    if source is None or change.action != Action.CREATE:
        return change
    return change._replace(reason=f"moved from {source}, which is not live: created new")


def _with_live_secret(change: Change, live: Mapping[str, LiveResource]) -> Change:
    """An update or adopt of a resource with a live secret says which (`details.live_secret`):
    that secret acts with whatever access the change gives, from the moment it is applied."""
    if change.action not in (Action.UPDATE, Action.ADOPT):
        return change
    resource = live.get(change.details.get("moved_from") or change.address)
    if resource is None or not resource.secrets:
        return change
    return change._replace(details={**change.details, "live_secret": resource.secrets[-1].id})


def _annotated(change: Change, risks: tuple[Risk, ...], new_secret: bool, steps: list[Step]) -> Change:
    """The change with its risks, `new_secret` if applying it makes a secret, and the manual steps
    a person follows to carry it out (`steps`, for a system without a management API): one
    rebuild, or none."""
    if new_secret or steps:
        details = {**change.details, **({"new_secret": True} if new_secret else {})}
        if steps:
            details["steps"] = [step.to_dict() for step in steps]
        return change._replace(risks=risks, details=details)
    return change._replace(risks=risks) if risks else change


def _check_addresses(state: DesiredState, targets: Collection[str], replace: Collection[str]) -> None:
    declared = state.resource_map
    for address in targets:
        if address not in declared and "/" not in address:
            example = next((known for known in declared if "/" in known), "KIND/NAME")
            raise AddressError("target", address, f"not an address (use KIND/NAME, e.g. {example})")
    for address in replace:
        problem = secret_problem(state, address, verb="replace")
        if problem:
            raise AddressError("replace", address, problem)


def _check_forget(
    state: DesiredState, provider: Provider, forget: Collection[str], live: Mapping[str, LiveResource]
) -> None:
    """Each address to forget is live and no longer declared (else the next plan adopts it again),
    and the provider can drop its ownership marker."""
    for address in sorted(forget):
        if not type(provider).releases():
            raise KeyformError(f"forget {address}: {provider.describe()} can't stop managing without deleting")
        if address in state.resource_map:
            location = state.locations.get(address)
            where = f" at {location}" if location is not None else ""
            raise KeyformError(
                f"forget {address}: still declared{where}: remove it from the desired state first "
                "(else the next plan adopts it again)"
            )
        if address not in live:
            raise KeyformError(f"forget {address}: no such resource in the live state{did_you_mean(address, live)}")


def _check_targets_exist(targets: Collection[str], declared: Collection[str], live: Collection[str]) -> None:
    """A target that is neither declared nor live would plan nothing and look like "No changes"."""
    known = set(declared) | set(live)
    for address in sorted(targets):
        if address not in known:
            raise AddressError(
                "target",
                address,
                f"no such address in the desired state or the live state{did_you_mean(address, known)}",
            )


SECRET_SHOWN = 5  # addresses with a secret listed in a message before "and N more"


def secret_addresses(state: DesiredState) -> list[str]:
    """Every declared address whose secret keyform manages (and so can rotate or replace)."""
    return sorted(address for address in state.resource_map if state.has_secret(address))


def secret_problem(state: DesiredState, address: str, *, verb: str) -> str:
    """Why `address` has no secret to `verb` (rotate, replace), naming what has one; "" if it has one."""
    if state.has_secret(address):
        return ""
    kind_name = address.partition("/")[0]
    kind = next((kind for kind in state.kinds if kind.name == kind_name), None)
    rotatable = secret_addresses(state)
    if kind is not None and kind.secret is not None:
        if address in state.resource_map and kind.secret.optional:
            setting = ".".join(kind.secret.policy_path)
            noun = kind.noun or kind.name
            return (
                f"this {noun} has no enabled {setting}, so no secret to {verb} (declare {setting}: {{enabled: true}})"
            )
        noun = kind.noun or kind.name
        return f"no such {noun} is declared{did_you_mean(address, rotatable) or _listing(rotatable)}"
    what = f"{kind_name} has" if kind is not None and kind.singleton else f"{kind_name} have"
    return f"{what} no secret to {verb}; only {_secret_holders(state.kinds)} do{_listing(rotatable)}"


def _secret_holders(kinds: Collection[Kind]) -> str:
    """Which declared resources have a secret keyform manages, in words: "credentials and users
    with an enabled api_key"."""
    always, optional = [], []
    for kind in kinds:
        secret = kind.secret
        if secret is not None and secret.optional:
            optional.append(f"{kind.name} with an enabled {'.'.join(secret.policy_path)}")
        elif secret is not None:
            always.append(kind.name)
    parts = always + optional
    if not parts:
        return "no kind"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or "" when none is close."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _listing(addresses: list[str]) -> str:
    if not addresses:
        return " (none is declared)"
    shown = ", ".join(addresses[:SECRET_SHOWN])
    more = f" and {len(addresses) - SECRET_SHOWN} more" if len(addresses) > SECRET_SHOWN else ""
    return f" (here: {shown}{more})"


def _referenced(kinds: Collection[Kind]) -> set[str]:
    """Kinds other kinds reference (a change to one can change what its holders may do)."""
    return {target for kind in kinds for target in kind.references.values()}


class _LiveAttributes(Mapping[str, Mapping[str, object]]):
    """Address -> live attributes, without copying the live state."""

    def __init__(self, live: Mapping[str, LiveResource]):
        self._live = live

    def __getitem__(self, address: str) -> Mapping[str, object]:
        return self._live[address].attributes

    def __iter__(self) -> Iterator[str]:
        return iter(self._live)

    def __len__(self) -> int:
        return len(self._live)

    def get(self, address: str, default: Any = None) -> Any:
        resource = self._live.get(address)
        return resource.attributes if resource is not None else default


def _targeted(changes: list[Change], targets: set[str], kinds: Collection[Kind]) -> list[Change]:
    """Changes at the targeted addresses plus the creates of what they reference."""
    selected = [c for c in changes if c.address in targets]
    by_name = {kind.name: kind for kind in kinds}
    needed: set[str] = set()
    for change in selected:
        kind = by_name.get(change.kind)
        for attribute, target_name in kind.references.items() if kind is not None else ():
            target = by_name.get(target_name)
            value = (change.after or {}).get(attribute) or ()
            for name in [value] if isinstance(value, str) else value:
                if target is not None:
                    needed.add(target.address(name))
    creates = {c.address for c in changes if c.action in (Action.CREATE, Action.REPLACE)} & needed
    return selected + [c for c in changes if c.address in creates and c.address not in targets]
