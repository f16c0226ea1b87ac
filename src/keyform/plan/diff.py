"""Desired state vs live state -> unordered changes (plus the unmanaged resources seen)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keyform.contract import Action, Change, Kind, LiveResource, Rotation
from keyform.model import DesiredState, format_duration


@dataclass(frozen=True)
class DiffResult:
    """The changes a diff found and the undeclared live resources keyform does not own."""

    changes: list[Change]
    unmanaged: list[str]


def diff(
    state: DesiredState,
    live: Mapping[str, LiveResource],
    kinds: Iterable[Kind],
    *,
    replace: Collection[str] = (),
    reissue: Collection[str] = (),
    forget: Collection[str] = (),
    removed_reason: str = "removed from the desired state",
    moved: Mapping[str, str] | None = None,
    now: datetime,
) -> DiffResult:
    """Compare every declared resource with its live counterpart, then every undeclared live one.

    `replace` forces a new secret (--replace); `reissue` forces one at once, revoking the current
    secret, for resources whose secret an interrupted apply may not have delivered. A managed,
    undeclared resource in `forget` is forgotten (left live, ownership marker dropped), not deleted.
    `moved` maps a declared address that is not live to the live address it is renamed from.
    """
    specs = {spec.name: spec for spec in kinds}
    desired = state.resource_map
    moved = moved or {}
    may_rotate = {*_scheduled(state), *replace, *reissue}
    changes: list[Change] = []
    for address, wanted in desired.items():
        current = live.get(address)
        if current is None and address in moved:
            spec = specs.get(address.split("/", 1)[0])
            if spec is not None:
                changes.extend(_moved(address, wanted, live[moved[address]], spec, moved[address]))
            continue
        if current is None or not current.managed or current.attributes != wanted:  # else unchanged: the common case
            spec = specs.get(address.split("/", 1)[0])
            if spec is None:
                continue
            changes.extend(_diff_declared(address, wanted, current, spec))
        if current is not None and current.secrets and (address in may_rotate or len(current.secrets) > 1):
            spec = specs.get(address.split("/", 1)[0])
            if spec is not None and spec.secret is not None:
                rotation = _rotation(state, spec, address, wanted, current, replace, reissue, now)
                if rotation is not None:
                    changes.append(rotation)
    unmanaged: list[str] = []
    renamed = set(moved.values())
    for address, current in live.items():
        if address in desired or address in renamed:
            continue
        spec = specs.get(address.split("/", 1)[0])
        if spec is None or spec.singleton:
            continue
        if current.managed and address in forget:
            changes.append(_forget(current))
        elif current.managed:
            changes.append(_delete(current, removed_reason))
        elif state.safety.unmanaged == "delete":
            changes.append(_delete(current, "not managed by keyform (safety.unmanaged: delete)"))
        elif state.safety.unmanaged == "report":
            unmanaged.append(address)
    return DiffResult(changes, sorted(unmanaged))


def _diff_declared(address: str, wanted: Mapping[str, Any], current: LiveResource | None, spec: Kind) -> list[Change]:
    if current is None:
        if spec.singleton:
            return []
        return [Change(Action.CREATE, address, after=dict(wanted))]
    before = _comparable(current.attributes, wanted)
    if spec.singleton:
        if before == wanted:
            return []
        return [Change(Action.UPDATE, address, before, dict(wanted), current.id, current.etag)]
    moved_immutable = sorted(f for f in spec.immutable if before.get(f) != wanted.get(f))
    if moved_immutable:
        reason = f"{', '.join(moved_immutable)} can't change in place"
        return [Change(Action.REPLACE, address, before, dict(wanted), current.id, current.etag, reason)]
    if not current.managed:
        return [
            Change(
                Action.ADOPT,
                address,
                before,
                dict(wanted),
                current.id,
                current.etag,
                "live, not yet managed by keyform",
            )
        ]
    if before != wanted:
        return [Change(Action.UPDATE, address, before, dict(wanted), current.id, current.etag)]
    return []


def _moved(address: str, wanted: Mapping[str, Any], current: LiveResource, spec: Kind, source: str) -> list[Change]:
    """The changes that take the live resource at `source` to `address`: an update (an adopt, if
    keyform does not manage it yet) that renames it where its kind can be renamed in place; else
    a replacement, a create at `address` and a delete at `source`, each saying why. The pair is
    ordered like any create and delete (what references the new one moves before the old one
    goes), and every provider carries it out as it carries out creates and deletes."""
    before = _comparable(current.attributes, wanted)
    moved_immutable = sorted(f for f in spec.immutable if before.get(f) != wanted.get(f))
    if not spec.renamable or moved_immutable:
        why = spec.rename_note or f"{spec.name} can't be renamed in place"
        if spec.renamable:
            why = f"{', '.join(moved_immutable)} can't change in place"
        return [
            Change(
                Action.CREATE,
                address,
                after=dict(wanted),
                reason=f"replaces {source} (moved: {why})",
                details={"moved_from": source},
            ),
            Change(
                Action.DELETE,
                source,
                dict(current.attributes),
                None,
                current.id,
                current.etag,
                reason=f"replaced by {address} (moved: {why})",
                details={"moved_to": address},
            ),
        ]
    details = {"moved_from": source}
    if not current.managed:
        reason = f"renamed from {source}; live, not yet managed by keyform"
        return [Change(Action.ADOPT, address, before, dict(wanted), current.id, current.etag, reason, details=details)]
    reason = f"renamed from {source}"
    return [Change(Action.UPDATE, address, before, dict(wanted), current.id, current.etag, reason, details=details)]


def _comparable(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The live attributes the desired state speaks about (unmanaged settings are left out)."""
    return {key: live.get(key) for key in wanted}


def _scheduled(state: DesiredState) -> set[str]:
    """Addresses whose secret has a `rotate_after`: with one live secret and no --replace or reissue,
    only these can need a rotation, so only these need the date arithmetic."""
    return {
        address
        for address, policy in state.secret_policies.items()
        if policy.rotate_after is not None or policy.rotation_requested is not None
    }


def _rotation(
    state: DesiredState,
    spec: Kind,
    address: str,
    wanted: Mapping[str, Any],
    current: LiveResource,
    replace: Collection[str],
    reissue: Collection[str],
    now: datetime,
) -> Change | None:
    """A rotate change when forced by --replace, when the secret is too old, or to end an overlap."""
    policy = state.secret_policies.get(address)
    if policy is None or not current.secrets or spec.secret is None:
        return None  # keyform does not manage this secret
    overlapping = spec.secret.rotation == Rotation.OVERLAP
    rotate_after, overlap = policy.rotate_after, policy.rotation_overlap if overlapping else None
    requested = policy.rotation_requested
    newest = current.secrets[-1]
    if address in reissue:  # none of the live secrets is known to be held: issue one, revoke all others
        change = _rotate(
            current, wanted, "reissue", "its secret may not have been delivered (interrupted apply)", newest.id
        )
        return change._replace(details={**change.details, "old_secrets": [s.id for s in current.secrets]})
    if rotate_after is None and requested is None and address not in replace and len(current.secrets) == 1:
        return None  # nothing can call for a rotation: decided before any date arithmetic
    age = now - newest.created_at
    if overlapping and len(current.secrets) > 1:
        if overlap is None or age >= overlap:
            retiring = current.secrets[0]
            return _rotate(
                current, wanted, "revoke", f"rotation overlap over: revoke secret {retiring.id}", retiring.id
            )
        return None
    if address in replace:
        reason = "forced by --replace"
    elif requested is not None and newest.created_at < requested <= now:
        reason = f"rotation requested for {_when(requested)} (rotation_requested)"
    elif rotate_after is not None and age > rotate_after:
        reason = f"secret is {_days(age)} old (rotate_after {format_duration(rotate_after)})"
    else:
        return None
    if overlap is None:
        return _rotate(current, wanted, "immediate", reason, newest.id)
    # the overlap starts when the change is applied: its end is at least this far from now
    return _rotate(current, wanted, "add", reason, newest.id, format_duration(overlap), now + overlap)


def _rotate(
    current: LiveResource,
    wanted: Mapping[str, Any],
    phase: str,
    reason: str,
    old_secret: str,
    overlap: str | None = None,
    until: datetime | None = None,
) -> Change:
    details = {"phase": phase, "old_secret": old_secret}
    if overlap:
        details["overlap"] = overlap
    if until is not None:
        details["old_secret_until"] = until.isoformat(timespec="seconds").replace("+00:00", "Z")
    before = _comparable(current.attributes, wanted)
    return Change(
        Action.ROTATE, current.address, before, dict(wanted), current.id, current.etag, reason, details=details
    )


def _delete(current: LiveResource, reason: str) -> Change:
    return Change(Action.DELETE, current.address, dict(current.attributes), None, current.id, current.etag, reason)


def _forget(current: LiveResource) -> Change:
    attributes = dict(current.attributes)
    reason = "keyform stops managing it; it stays live, unchanged"
    return Change(Action.FORGET, current.address, attributes, attributes, current.id, current.etag, reason)


def _when(moment: datetime) -> str:
    """A requested moment as written: the date alone at midnight UTC, else date and time."""
    if moment.hour == moment.minute == moment.second == 0:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _days(age: timedelta) -> str:
    return f"{age.days}d" if age.days else f"{int(age.total_seconds() // 3600)}h"
