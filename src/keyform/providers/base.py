"""The provider contract: read the live state of some kinds, apply one change.

A provider is a plugin found through the `keyform.providers` entry-point group. It declares
its kinds (`KindSpec`), reads every live resource of those kinds in as few requests as the
API allows, and applies one `Change` at a time, returning any secret the API generated.
Everything else (diff, plan, safety, ordering, delivery of secrets) is the engine's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from keyform.errors import KeyformError, ProviderError

if TYPE_CHECKING:
    from keyform.catalog import Catalog
    from keyform.plan.changes import Change


@dataclass(frozen=True)
class KindSpec:
    """What the engine needs to know about one kind of resource."""

    kind: str  # address prefix: "roles", "users", "credentials", "organization"
    order: int  # apply order of creates/updates (lower first); deletes run in reverse
    singleton: bool = False  # one resource, address == kind; never created or deleted
    immutable: frozenset[str] = frozenset()  # fields that can't change in place (replace)
    references: Mapping[str, str] = field(default_factory=dict)  # field -> kind it names


class SecretInfo(NamedTuple):
    """A live secret's public facts (never the secret itself); a NamedTuple like `LiveResource`."""

    id: str
    created_at: datetime


class LiveResource(NamedTuple):
    """One live resource, in the same canonical attribute shape as the desired state.

    A NamedTuple: immutable, and built four times faster than a frozen dataclass, once per live
    resource on every read.
    """

    address: str
    attributes: Mapping[str, Any]
    id: str | None = None
    etag: str | None = None
    managed: bool = False  # carries keyform's managed_by marker
    secrets: tuple[SecretInfo, ...] = ()  # live secrets, oldest first


@dataclass(frozen=True)
class GeneratedSecret:
    """A secret the API generated while applying a change; goes to the sink and nowhere else."""

    address: str
    type: str  # "api_key" | "client_credentials"
    fields: Mapping[str, str]  # {"api_key": ...} or {"client_id": ..., "client_secret": ...}
    secret_id: str  # the API's id of the secret (never secret itself)
    created_at: datetime
    retiring: str | None = None  # id of the secret that stays valid during a rotation overlap

    def values(self) -> list[str]:
        """Every secret value in this record (for redaction)."""
        return [value for key, value in self.fields.items() if key != "client_id"]

    def __repr__(self) -> str:  # never show the fields
        return f"GeneratedSecret(address={self.address!r}, type={self.type!r}, secret_id={self.secret_id!r})"


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one change did."""

    secret: GeneratedSecret | None = None
    etag: str | None = None


class Provider(ABC):
    """A live credential API. Subclasses are constructed with their `provider:` options."""

    kinds: tuple[KindSpec, ...] = ()

    @abstractmethod
    def read(self) -> dict[str, LiveResource]:
        """Every live resource of every kind, by address (one paginated listing per kind)."""

    @abstractmethod
    def apply(self, change: Change) -> ApplyOutcome:
        """Apply one change; raise StaleChangeError if the resource moved since the plan."""

    def generates_secret(self, change: Change) -> bool:
        """Whether applying this change makes the API show a new secret (journalled, shown in plans)."""
        return False

    def lock(self, owner: str, ttl_seconds: int) -> str | None:
        """Take the organisation's apply lock and return its id (None: this API has no locks).

        Raises LockedError naming the holder while another apply holds it.
        """
        return None

    def extend_lock(self, lock_id: str, ttl_seconds: int) -> None:  # noqa: B027 (optional hook)
        """Keep a held lock alive during a long apply."""

    def unlock(self, lock_id: str) -> None:  # noqa: B027 (optional hook)
        """Release (or force-release) a lock by id."""

    def locks(self) -> list[HeldLock]:
        """The apply locks held now (none if this API has no locks)."""
        return []

    def catalog(self) -> Catalog | None:
        """The modules and attributes this API knows, or None if it has no such notion."""
        return None

    def identity(self) -> str | None:
        """The address of the identity whose token keyform is using, if the API says."""
        return None

    def describe(self) -> str:
        """A printable name for the target (URL without credentials)."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""

    def kind(self, name: str) -> KindSpec:
        for spec in self.kinds:
            if spec.kind == name:
                return spec
        raise KeyError(name)


class LockedError(KeyformError):
    """Another apply holds the organisation's lock."""

    def __init__(self, message: str, lock_id: str, owner: str = ""):
        super().__init__(message)
        self.lock_id = lock_id
        self.owner = owner


class UnreachableError(ProviderError):
    """The API could not be reached at all (connection refused, host unknown), retries included:
    apply starts no further change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldLock:
    """One apply lock the API holds: its id, who holds it, since when and until when."""

    id: str
    owner: str
    since: str
    expires: str


class StaleChangeError(Exception):
    """The live resource no longer matches what the plan saw; `moved` names what changed."""

    def __init__(self, address: str, moved: str):
        self.address = address
        self.moved = moved
        super().__init__(f"{address}: {moved}")
