"""What the conformance kit needs from a provider package: its settings, sample specs, and a way to
change its live system behind keyform's back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """The resources the kit declares, as keyform.yaml specs.

    `kind` is the kind the kit creates, updates, replaces, deletes, adopts and rotates (one with a
    secret, if the provider has one); the kit names its resources `name_format.format(n)`.
    `base` holds the other sections every project declares (the resources `spec` references).
    """

    kind: str
    spec: Mapping[str, Any]  # a new resource of `kind`
    updated: Mapping[str, Any]  # the same with a mutable attribute changed
    replaced: Mapping[str, Any] | None = None  # the same with an immutable attribute changed (None: none)
    name_format: str = "kit-{}"
    base: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # section -> {name: spec}


class Harness(ABC):
    """One live system the kit may change at will (yield a fresh one per test from the fixture).

    The live system holds no resources of the provider's kinds when a test starts, except its
    singletons and what `preexisting` lists (the identity keyform runs as, say).
    """

    provider_type: ClassVar[str]  # what `provider.type` says
    page_size: ClassVar[int | None] = None  # the listing page size `settings()` sets (None: one request per kind)
    read_overhead: ClassVar[int] = 0  # requests a read sends besides its listings (e.g. "who am I")
    # A kind whose every resource needs a listing of its own, where the API has no account-wide one
    # (AWS IAM: one ListAccessKeys per user); None: every kind is read in pages.
    listing_per_resource_of: ClassVar[str | None] = None

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The `provider:` options but `type`; secrets as ${env:NAME} references (see `environment`)."""

    def environment(self) -> dict[str, str]:
        """Environment variables the settings and the provider's `export_settings` reference."""
        return {}

    @abstractmethod
    def sample(self) -> Sample:
        """The specs the kit declares."""

    def preexisting(self) -> Mapping[str, Mapping[str, Mapping[str, Any]]]:
        """Live resources every test starts with (the identity keyform runs as, say), as kind -> name
        -> spec: every project declares them, so keyform adopts them and never plans their delete."""
        return {}

    @abstractmethod
    def create_unmanaged(self, kind: str, name: str, spec: Mapping[str, Any]) -> None:
        """Out of band: create a live resource as `spec` declares it, without keyform's ownership marker."""

    @abstractmethod
    def touch(self, address: str) -> None:
        """Out of band: change the live resource at `address` so that a plan made before is stale."""

    def bad_settings(self) -> Sequence[tuple[dict[str, Any], str]]:
        """More `provider:` options (but `type`) keyform must refuse, each with a fragment of the error."""
        return ()
