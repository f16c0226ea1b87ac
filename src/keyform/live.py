"""The live state one resource at a time: `keyform show` and `keyform import [ADDR [ID]]`.

An address names a live resource as plans do (`KIND/NAME`, or a singleton's kind alone); its
name is keyed as the kind keys names (emails compare case-insensitively). A resource is shown
in export's spec form (`Kind.export`: the shortest spec that plans to no change), so what `show`
prints and what `import` writes can be pasted into the desired state. Live attributes never hold
a secret; a resource's live secrets appear only as their ids and creation times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from keyform.contract import Kind, LiveResource, kind_of
from keyform.errors import KeyformError
from keyform.model import DesiredState
from keyform.plan.build import did_you_mean


class LiveAddressError(KeyformError):
    """An address that names no live resource; the message starts with the command (`show ADDR: ...`)."""

    def __init__(self, command: str, address: str, problem: str):
        self.address = address
        super().__init__(f"{command} {address}: {problem}")


def resolve(kinds: Sequence[Kind], text: str, *, command: str) -> tuple[Kind, str]:
    """The kind `text` names and its address in canonical form (LiveAddressError naming `command` if none)."""
    kind_name, _, name = text.partition("/")
    kind = kind_of(kinds, kind_name)
    if kind is None:
        known = ", ".join(spec.name for spec in kinds)
        raise LiveAddressError(command, text, f"no kind {kind_name!r} (addresses are KIND/NAME; kinds here: {known})")
    if kind.singleton:
        if name:
            raise LiveAddressError(command, text, f"{kind.name} is a single resource: its address is {kind.name}")
        return kind, kind.name
    if not name:
        raise LiveAddressError(command, text, f"not an address (use {kind.name}/{kind.placeholder})")
    return kind, kind.address(name)


def find(kinds: Sequence[Kind], live: Mapping[str, LiveResource], text: str, *, command: str) -> tuple[Kind, str]:
    """Like `resolve`, and the resource must be live (LiveAddressError naming the closest live address)."""
    kind, address = resolve(kinds, text, command=command)
    if address not in live:
        raise LiveAddressError(command, text, f"no such resource in the live state{did_you_mean(address, live)}")
    return kind, address


def to_import(
    kinds: Sequence[Kind], live: Mapping[str, LiveResource], state: DesiredState, text: str, resource_id: str | None
) -> tuple[Kind, str, str]:
    """What `keyform import ADDR [ID]` adopts: its kind, the address it is live at and the address
    to declare it under (the same, unless ID names a resource live under another name, which a
    `moved:` entry then renames). KeyformError for anything declared already or not renamable."""
    if resource_id is None:
        kind, found = find(kinds, live, text, command="import")
        target = found
    else:
        kind, target = resolve(kinds, text, command="import")
        found = with_id(kind, live, resource_id, command="import", text=text)
    for known in dict.fromkeys((target, found)):
        if known in state.resource_map:
            location = state.locations.get(known)
            where = f" at {location}" if location is not None else ""
            if known == target:
                raise KeyformError(f"import {text}: already declared{where}: nothing to import")
            raise KeyformError(
                f"import {text} {resource_id}: id {resource_id} is {known}, declared{where}: to rename it, "
                f"change its name there and add a moved: entry from {known} to {target}"
            )
    if found != target:
        problem = rename_problem(kind, live, found, target)
        if problem:
            raise KeyformError(f"import {text} {resource_id}: {problem}")
    return kind, found, target


def with_id(kind: Kind, live: Mapping[str, LiveResource], resource_id: str, *, command: str, text: str) -> str:
    """The address of the live resource of `kind` whose id is `resource_id` (LiveAddressError if none)."""
    prefix = kind.name if kind.singleton else kind.name + "/"
    for address, resource in live.items():
        if resource.id == resource_id and (address == kind.name or address.startswith(prefix)):
            return address
    raise LiveAddressError(
        command,
        f"{text} {resource_id}",
        f"no live {kind.noun or kind.name} has id {resource_id} (list them with `keyform show {kind.name}`)",
    )


def rename_problem(kind: Kind, live: Mapping[str, LiveResource], source: str, target: str) -> str:
    """Why the live resource at `source` can't be adopted under `target` by a `moved:` entry ("": it can)."""
    if not kind.renamable:
        why = kind.rename_note or f"{kind.name} can't be renamed in place"
        return f"it is live as {source}, and {why}: import it as {source}"
    other = live.get(target)
    if other is not None:
        return (
            f"it is live as {source}, and {target} is live too (id {other.id}): import one of them under its own name"
        )
    return ""


def spec_of(kind: Kind, resource: LiveResource) -> dict[str, Any]:
    """The resource's live attributes as the shortest spec that plans to no change."""
    return kind.export(resource.attributes)


def name_of(kind: Kind, address: str) -> str:
    return address if kind.singleton else address[len(kind.name) + 1 :]


def document(kinds: Sequence[Kind], live: Mapping[str, LiveResource], addresses: Sequence[str]) -> dict[str, Any]:
    """`{kind: {name: spec}}` (a singleton: `{kind: spec}`) for `addresses`, kinds in the provider's order."""
    result: dict[str, Any] = {}
    for kind in kinds:
        for address in addresses:
            if kind.singleton and address == kind.name:
                result[kind.name] = spec_of(kind, live[address])
            elif not kind.singleton and address.startswith(kind.name + "/"):
                result.setdefault(kind.name, {})[name_of(kind, address)] = spec_of(kind, live[address])
    return result


def resources_json(
    kinds: Sequence[Kind], live: Mapping[str, LiveResource], addresses: Sequence[str]
) -> list[dict[str, Any]]:
    """One JSON object per address: address, kind, name, id, managed, spec, secrets (ids and times)."""
    by_name = {kind.name: kind for kind in kinds}
    result = []
    for address in addresses:
        resource = live[address]
        kind = by_name[address.partition("/")[0]]
        result.append(
            {
                "address": address,
                "kind": kind.name,
                "name": name_of(kind, address),
                "id": resource.id,
                "managed": resource.managed,
                "spec": spec_of(kind, resource),
                "secrets": [
                    {"id": secret.id, "created_at": secret.created_at.isoformat(timespec="seconds")}
                    for secret in resource.secrets
                ],
            }
        )
    return result


def every_address(kinds: Sequence[Kind], live: Mapping[str, LiveResource]) -> list[str]:
    """Every live address of the provider's kinds, kind by kind (in the provider's order), then by name."""
    names = {kind.name for kind in kinds}
    order = {kind.name: index for index, kind in enumerate(kinds)}
    found = [address for address in live if address.partition("/")[0] in names]
    return sorted(found, key=lambda address: (order[address.partition("/")[0]], address))


def dump(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=120)
