"""The planning pipeline: live state -> diff -> risks -> targets -> Plan."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from keyform import __version__
from keyform.errors import KeyformError
from keyform.model import DesiredState
from keyform.plan.changes import Action, Change, Risk
from keyform.plan.diff import diff
from keyform.plan.plan import Plan
from keyform.plan.risks import RoleBook, assess
from keyform.providers.base import LiveResource, Provider


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
    now: datetime | None = None,
    live: Mapping[str, LiveResource] | None = None,
) -> PlanResult:
    """Read the live state once (unless given, already read) and build the Plan to the desired state."""
    _check_addresses(state, targets, replace)
    now = now or datetime.now(UTC)
    live = provider.read() if live is None else live
    if targets:
        _check_targets_exist(targets, state.resource_map.keys(), live.keys())
    result = diff(state, live, provider.kinds, replace=set(replace), reissue=set(reissue), now=now)
    changes = result.changes
    if changes:
        book = RoleBook(
            before={a.split("/", 1)[1]: r.attributes for a, r in live.items() if a.startswith("roles/")},
            after={name: role.attributes_dict() for name, role in state.roles.items()},
        )
        holders = _role_holders(state) if any(change.kind == "roles" for change in changes) else {}
        risks = assess(changes, book, provider.catalog(), holders)
        changes = [
            _annotated(change, change_risks, provider.generates_secret(change))
            for change, change_risks in zip(changes, risks, strict=True)
        ]
    if targets:
        changes = _targeted(changes, set(targets))
    meta = {
        "target": provider.describe(),
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "keyform_version": __version__,
        "targets": sorted(targets),
        "replace": sorted(replace),
    }
    plan = Plan.from_changes(changes, result.unmanaged, meta)
    return PlanResult(plan, live, declared=state.resource_map.keys(), targets=frozenset(targets))


def _annotated(change: Change, risks: tuple[Risk, ...], new_secret: bool) -> Change:
    """The change with its risks and, if applying it makes a secret, `new_secret` (one rebuild, or none)."""
    if new_secret:
        return change._replace(risks=risks, details={**change.details, "new_secret": True})
    return change._replace(risks=risks) if risks else change


def _check_addresses(state: DesiredState, targets: Collection[str], replace: Collection[str]) -> None:
    declared = state.resource_map
    for address in targets:
        if address not in declared and "/" not in address:
            raise KeyformError(f"--target {address}: not an address (use KIND/NAME, e.g. users/a@b.example)")
    for address in replace:
        problem = secret_problem(state, address, verb="replace")
        if problem:
            raise KeyformError(f"--replace {address}: {problem}")


def _check_targets_exist(targets: Collection[str], declared: Collection[str], live: Collection[str]) -> None:
    """A target that is neither declared nor live would plan nothing and look like "No changes"."""
    known = set(declared) | set(live)
    for address in sorted(targets):
        if address not in known:
            raise KeyformError(
                f"--target {address}: no such address in the desired state or the live state"
                f"{did_you_mean(address, known)}"
            )


SECRET_SHOWN = 5  # rotatable addresses listed in a message before "and N more"


def secret_addresses(state: DesiredState) -> list[str]:
    """Every address with a secret keyform can rotate: declared credentials, users with an enabled api_key."""
    users = [f"users/{email}" for email, user in state.users.items() if user.api_key and user.api_key.enabled]
    return sorted([f"credentials/{name}" for name in state.credentials] + users)


def secret_problem(state: DesiredState, address: str, *, verb: str) -> str:
    """Why `address` has no secret to `verb` (rotate, replace), naming what has one; "" if it has one."""
    if state.has_secret(address):
        return ""
    kind, _, name = address.partition("/")
    rotatable = secret_addresses(state)
    if kind == "credentials":
        return f"no such credential is declared{did_you_mean(address, rotatable) or _listing(rotatable)}"
    if kind == "users" and name.lower() in state.users:
        return f"this user has no enabled api_key, so no secret to {verb} (declare api_key: {{enabled: true}})"
    if kind == "users":
        return f"no such user is declared{did_you_mean(address, rotatable) or _listing(rotatable)}"
    what = "the organization has" if address == "organization" else f"{kind!r} resources have"
    if kind == "roles":
        what = "roles have"
    return f"{what} no secret to {verb}; only credentials and users with an enabled api_key do{_listing(rotatable)}"


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


def _role_holders(state: DesiredState) -> dict[str, list[str]]:
    holders: dict[str, list[str]] = defaultdict(list)
    for email, user in sorted(state.users.items()):
        for role in user.roles:
            holders[role].append(f"users/{email}")
    for name, credential in sorted(state.credentials.items()):
        for role in credential.roles:
            holders[role].append(f"credentials/{name}")
    return holders


def _targeted(changes: list[Change], targets: set[str]) -> list[Change]:
    """Changes at the targeted addresses plus the role creates they depend on."""
    selected = [c for c in changes if c.address in targets]
    needed = {f"roles/{role}" for c in selected for role in (c.after or {}).get("roles") or ()}
    creates = {c.address for c in changes if c.action in (Action.CREATE, Action.REPLACE)} & needed
    return selected + [c for c in changes if c.address in creates and c.address not in targets]
