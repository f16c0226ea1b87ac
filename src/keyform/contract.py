"""The provider contract: the types the engine, the providers and the sinks share.

A provider is a plugin found through the `keyform.providers` entry-point group. It declares its
kinds (`Kind`: schema, identity, canonical form, references, immutable fields, secret and
rotation rules, grants), reads every live resource of those kinds in as few requests as the API
allows, and applies one `Change` at a time, returning any secret that applying it made.
Everything else (loading, diff, plan, ordering, safety thresholds, delivery of secrets) is the
engine's; optional hooks let a provider add its own risks and invariants. docs/providers.md
explains how to write one.

Changes, risks, live resources and their secrets are NamedTuples, built once per resource and
per change (bench/README.md has what converting them would cost). The other value objects are
frozen, slotted, keyword-only dataclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from keyform.errors import KeyformError, ProviderError

if TYPE_CHECKING:
    from keyform.model import DesiredState
    from keyform.plan.plan import Plan
    from keyform.secrets.redaction import Redactor
    from keyform.ui import UI

JSON = Mapping[str, Any]


# -- changes --------------------------------------------------------------------------------------


class Action(StrEnum):
    """What a change does to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ROTATE = "rotate"  # a new secret for an existing resource
    REPLACE = "replace"  # delete and create (an immutable field changed)
    ADOPT = "adopt"  # take ownership of a live resource keyform did not create
    FORGET = "forget"  # stop managing a live resource without deleting it (drop the ownership marker)


SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.ROTATE: "±",
    Action.REPLACE: "±",
    Action.ADOPT: "&",
    Action.FORGET: "/",
}


class RiskCategory(StrEnum):
    """Why a reviewer should look twice."""

    ESCALATION = "escalation"  # someone gains access
    BREAKING = "breaking"  # something that works today stops working
    LOOKALIKE = "lookalike"  # an identity whose name looks like another's (mixed scripts, confusables)


class Risk(NamedTuple):
    """A reviewer-facing annotation on a change."""

    category: RiskCategory
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"category": str(self.category), "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Risk:
        return cls(RiskCategory(data["category"]), data["message"])


NO_DETAILS: Mapping[str, Any] = MappingProxyType({})  # the default details: shared, so read-only


class Change(NamedTuple):
    """One change to one resource, with what the plan saw (id, etag) to detect staleness."""

    action: Action
    address: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    id: str | None = None
    etag: str | None = None
    reason: str = ""
    risks: tuple[Risk, ...] = ()
    details: Mapping[str, Any] = NO_DETAILS  # action-specific facts (rotation phase, ...)

    @property
    def kind(self) -> str:
        return self.address.partition("/")[0]

    @property
    def name(self) -> str:
        return self.address.split("/", 1)[1] if "/" in self.address else self.address

    @property
    def live_address(self) -> str:
        """Where the resource is live when the change starts: the address a `moved:` entry renames
        it from (`details["moved_from"]` of an update or adopt), else its own address."""
        source = self.details.get("moved_from")
        return str(source) if source and self.action in (Action.UPDATE, Action.ADOPT) else self.address

    def changed_fields(self) -> list[str]:
        """Attribute names whose value differs between before and after (sorted)."""
        before, after = self.before or {}, self.after or {}
        return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))

    def to_dict(self) -> dict[str, Any]:
        action = self.action
        return {
            "address": self.address,
            "action": str(action),  # the plain value (str() of a StrEnum is it, and cheaper than .value)
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "changed": self.changed_fields() if action is Action.UPDATE or action is Action.ADOPT else [],
            "reason": self.reason,
            "risks": [risk.to_dict() for risk in self.risks],
            "id": self.id,
            "etag": self.etag,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            action=Action(data["action"]),
            address=data["address"],
            before=data.get("before"),
            after=data.get("after"),
            id=data.get("id"),
            etag=data.get("etag"),
            reason=data.get("reason", ""),
            risks=tuple(Risk.from_dict(r) for r in data.get("risks", ())),
            details=data.get("details") or {},
        )


# -- live state -----------------------------------------------------------------------------------


class SecretInfo(NamedTuple):
    """A live secret's public facts (never the secret itself)."""

    id: str
    created_at: datetime


class LiveResource(NamedTuple):
    """One live resource, in the same canonical attribute shape as the desired state."""

    address: str
    attributes: Mapping[str, Any]
    id: str | None = None
    etag: str | None = None
    managed: bool = False  # carries keyform's ownership marker
    secrets: tuple[SecretInfo, ...] = ()  # live secrets, oldest first


@dataclass(frozen=True)
class GeneratedSecret:
    """A secret made while applying a change; goes to the sink and nowhere else.

    `type` is the provider's name for the secret's shape (the keyform provider's are `api_key`
    and `client_credentials`); `fields` holds its parts. Fields named in `public` (e.g. a client
    id) are not secret; every other field is redacted wherever keyform prints.
    """

    address: str
    type: str
    fields: Mapping[str, str]
    secret_id: str  # the API's id of the secret (never the secret itself)
    created_at: datetime
    retiring: str | None = None  # id of the secret that stays valid during a rotation overlap
    public: tuple[str, ...] = ("client_id",)
    pending: bool = False  # keyform made it and is about to set it: written ahead, not yet known to be live

    def values(self) -> list[str]:
        """Every secret value in this record (for redaction)."""
        return [value for key, value in self.fields.items() if key not in self.public]

    def __repr__(self) -> str:  # never show the fields
        return f"GeneratedSecret(address={self.address!r}, type={self.type!r}, secret_id={self.secret_id!r})"


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one change did."""

    secret: GeneratedSecret | None = None
    etag: str | None = None


@dataclass(frozen=True)
class Finding:
    """`keyform verify`'s verdict on one delivered secret."""

    address: str
    ok: bool
    message: str
    retired: bool = False  # the resource was deleted and its entry retired: nothing to check

    def __str__(self) -> str:
        return f"{'skip' if self.retired else 'ok  ' if self.ok else 'FAIL'} {self.address}: {self.message}"


class SecretVerifier(Protocol):
    """Checks delivered secrets against the live system (`Provider.verifier` makes one)."""

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        """Whether the sink `entry` at `address` authenticates and may do what `state` declares.
        Add any token it obtains to `redactor` before using it; never put a secret in the message."""
        ...

    def close(self) -> None: ...


# -- manual steps ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One thing a person does in a vendor's UI to carry out a change (`Provider.manual_steps`).

    `text` says where to click and what to tick; `only` names the only role that can do it
    ("Account Owner"); `warning` is said loudly ("this deactivates the previous key at once");
    `enter` names the parts of a new secret the person types into keyform after this step
    (through a hidden prompt, never shown). A step never holds a secret.
    """

    text: str
    only: str = ""
    warning: str = ""
    enter: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.only:
            data["only"] = self.only
        if self.warning:
            data["warning"] = self.warning
        if self.enter:
            data["enter"] = list(self.enter)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        return cls(
            text=str(data["text"]),
            only=str(data.get("only", "")),
            warning=str(data.get("warning", "")),
            enter=tuple(data.get("enter", ())),
        )


def steps_of(change: Change) -> list[Step]:
    """The manual steps a plan recorded for `change` (in `details["steps"]`), if any."""
    return [Step.from_dict(step) for step in change.details.get("steps", ())]


# -- kinds ----------------------------------------------------------------------------------------


class SecretSource(StrEnum):
    """Who makes a kind's secret."""

    API = "api"  # the API generates it and shows it once
    KEYFORM = "keyform"  # keyform generates it (CSPRNG, the kind's alphabet and length) and sets it


class Rotation(StrEnum):
    """How a kind's secret can be rotated."""

    IMMEDIATE = "immediate"  # a new secret ends the old one at once (breaking)
    OVERLAP = "overlap"  # up to `max_live` secrets live at once: the old one stays for rotation_overlap
    CREATE_THEN_DELETE = "create-then-delete"  # the provider adds the new one, then deletes the old one


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretSpec:
    """Whether and how a kind carries a secret, and where its YAML spec sets the secret policy.

    The policy is a mapping at `policy_path` in a resource's spec (`()`: the spec itself) with
    the optional keys `rotate_after` and `rotation_overlap` (durations) and, when `optional`,
    `enabled`: an optional secret is managed only when that mapping is present and not
    `enabled: false`.
    """

    source: SecretSource = SecretSource.API
    rotation: Rotation = Rotation.IMMEDIATE
    max_live: int = 1
    noun: str = "secret"  # how messages name it: "API key", "client secret", "password"
    policy_path: tuple[str, ...] = ()
    optional: bool = False
    alphabet: str = ""  # SecretSource.KEYFORM: the characters a secret may use
    length: int = 0  # SecretSource.KEYFORM: its length
    field_name: str = "secret"  # SecretSource.KEYFORM: the sink entry's field (and `type`) that holds it


def _same(name: str) -> str:
    return name


def _dict(spec: JSON) -> dict[str, Any]:
    return dict(spec)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Kind:
    """One kind of resource a provider manages: its YAML section and everything the engine needs.

    `schema` is the JSON Schema of one resource's spec (`names` constrains the names, as
    `propertyNames`); for a singleton, `schema` is the section's own schema. `canonical` turns a
    valid spec into the attributes desired and live are compared in; `export` is its inverse
    (canonical attributes -> the shortest spec that plans to no change). `references` names the
    attributes that hold names of other kinds' resources (a string or a list of strings): they
    give the apply order, skip dependents of a failed change and are checked to exist.
    `grants` gives the access one resource grants by itself (strings such as `employees:write`);
    an identity's effective access adds the grants of the resources it references.
    `renamable` says whether the API changes a resource's name in place, keeping its id and its
    secret: a `moved:` entry is then an update (the provider sends the new name when
    `change.details["moved_from"]` is set), else a replace whose risk says `rename_note`.
    """

    name: str  # the YAML section and address prefix
    noun: str = ""  # one resource, for counts ("role"); singletons are not counted
    plural: str = ""  # several, when not noun + "s" ("policies")
    description: str = ""
    schema: JSON = field(default_factory=dict)
    names: JSON = field(default_factory=dict)
    name_hint: str = ""  # shown when a name breaks `names`, e.g. "is not an email address"
    placeholder: str = "NAME"  # how messages write a name in an address, e.g. users/EMAIL
    singleton: bool = False  # one resource, address == name; never created or deleted
    key: Callable[[str], str] = _same  # how names are keyed, e.g. str.lower for emails
    key_note: str = ""  # said when two names collide by key, e.g. "emails are compared case-insensitively"
    canonical: Callable[[JSON], dict[str, Any]] = _dict
    export: Callable[[JSON], dict[str, Any]] = _dict
    references: Mapping[str, str] = field(default_factory=dict)  # attribute -> kind it names
    immutable: frozenset[str] = frozenset()  # attributes that can't change in place (replace)
    renamable: bool = False  # a `moved:` entry renames a resource in place (same id, same secret)
    rename_note: str = ""  # why it can't be renamed, said when a move replaces it ("application credentials ...")
    secret: SecretSpec | None = None
    grants: Callable[[JSON], frozenset[str]] | None = None
    key_order: tuple[str, ...] = ()  # `keyform fmt`: the order of a spec's keys
    nested_order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # fmt: key -> its mapping's order
    list_order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # fmt: key -> order of its lists' items

    def address(self, name: str) -> str:
        return self.name if self.singleton else f"{self.name}/{self.key(name)}"

    def counted(self, number: int) -> str:
        """`1 role`, `3 roles`, `2 policies`."""
        noun = self.noun or self.name
        return f"{number} {noun if number == 1 else self.plural or noun + 's'}"


# -- providers ------------------------------------------------------------------------------------


class Provider(ABC):
    """A live credential API. Subclasses are constructed with their `provider:` options.

    `kinds` is a class attribute: the engine reads it before any provider is constructed (to
    assemble the schema). Constructing a provider must not connect.
    """

    kinds: ClassVar[tuple[Kind, ...]] = ()
    needs_person: ClassVar[bool] = False
    """True for a system without a management API: a person carries out each change in its UI
    (`manual_steps`), so `keyform apply` needs a terminal and runs one change at a time."""

    def __init__(self, options: Mapping[str, Any]) -> None:  # noqa: B027 (each provider defines its own)
        """`options`: the `provider:` section of the configuration, as the registry passes it."""

    @abstractmethod
    def read(self) -> dict[str, LiveResource]:
        """Every live resource of every kind, by address (one paginated listing per kind)."""

    @abstractmethod
    def apply(self, change: Change) -> ApplyOutcome:
        """Apply one change; raise StaleChangeError if the resource moved since the plan."""

    # -- optional hooks, each with a default that suits an API without the notion -----------------

    def use_ui(self, ui: UI) -> None:  # noqa: B027 (optional hook)
        """Who runs keyform, given once after construction: a provider that needs a person (one
        without a management API) talks to them through it; every other provider ignores it."""

    def use_directory(self, directory: Path) -> None:  # noqa: B027 (optional hook)
        """The directory of the root keyform.yaml, given once after construction and before
        `read()`: a provider that keeps a local record (one without a management API) keeps it there."""

    def prepare_read(self) -> None:  # noqa: B027 (optional hook)
        """Called in the caller's thread just before `read()` starts in another one (a plan's read
        overlaps loading the desired state): import here what the read needs, such as a database
        driver. An import is work under the interpreter lock, which a reading thread only contends
        for with the loader; what overlaps well is waiting for the system."""

    def manual_steps(self, change: Change) -> list[Step]:
        """What a person does in the system's UI to carry out `change` (a system without a
        management API): plans show them as a checklist, and `apply` walks a person through them."""
        return []

    def apply_with_secret(self, change: Change, secret: GeneratedSecret) -> ApplyOutcome:
        """Apply a change that sets a secret keyform generated (a kind with `SecretSource.KEYFORM`,
        for every change `generates_secret` is true for): create the resource with `secret`, or set
        it on the live one (rotate, replace). The secret is already in the sink, marked pending;
        return an outcome whose `secret` is None (deliver `secret` as it is) or `secret` with public
        fields added (a user name). Never log it."""
        raise ProviderError(
            f"{change.address}: provider {type(self).__name__} declares keyform-generated secrets but does not "
            "implement apply_with_secret: upgrade the provider package"
        )

    def release(self, change: Change) -> ApplyOutcome:
        """Carry out a forget: drop keyform's ownership marker from the live resource and leave it
        otherwise as it is (it stays live and working; the next read sees it as not managed).
        Providers whose read tells managed resources by a marker implement it; see `releases`."""
        raise ProviderError(
            f"{change.address}: provider {type(self).__name__} can't stop managing a resource without deleting it"
        )

    @classmethod
    def releases(cls) -> bool:
        """Whether this provider implements `release` (plans refuse a forget otherwise)."""
        return cls.release is not Provider.release

    def requests_sent(self) -> int | None:
        """How many requests (HTTP calls, SDK calls, SQL queries) this provider has sent since it was
        constructed, or None if it does not count them. `keyform.testing` checks with it that a read
        costs one listing per kind (requests = pages)."""
        return None

    def generates_secret(self, change: Change) -> bool:
        """Whether applying this change makes a new secret (journalled, shown in plans)."""
        return False

    def risks(self, change: Change) -> list[Risk]:
        """Kind-specific risks of a create, update, replace, adopt or delete (org role raised, a
        switch turned off, what a deleted resource takes with it, ...), after the engine's own
        (deletes, replaces, grants gained and lost). A delete has `after` None."""
        return []

    def rotation_risks(self, change: Change) -> list[Risk]:
        """The risks of a rotate change (default: say when the old secret stops working)."""
        spec = kind_of(type(self), change.kind)
        noun = spec.secret.noun if spec is not None and spec.secret is not None else "secret"
        old = change.details.get("old_secret", "the old one")
        phase = change.details.get("phase")
        if phase == "revoke":
            message = f"{change.address}: {noun} {old} stops working now (rotation overlap over)"
        elif phase in ("immediate", "reissue"):
            message = f"{change.address}: new {noun}; the current one ({old}) stops working at once"
        else:
            return []
        return [Risk(RiskCategory.BREAKING, message)]

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        """Whether gaining `grant` (one of a kind's `grants`) counts as escalation."""
        return True

    def weakens(self, change: Change) -> str:
        """How a change takes access away, in a few words ("deleted", "disabled", "demoted from a
        to b"), or "": protected addresses and the identity keyform runs as are never weakened."""
        if change.action == Action.DELETE:
            return "deleted"
        if change.action == Action.REPLACE:
            return "replaced"
        return ""

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        """Rules no flag overrides (e.g. "never leave the organisation without an owner"): one
        message per violation of `plan` applied to `live`."""
        return []

    def runs_last(self, change: Change) -> bool:
        """Whether the change must run after every other (e.g. switching all API access off)."""
        return False

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        """Semantic problems of a merged, schema-checked desired state beyond references (e.g. a
        module the API does not know): (data path, message, whether the path's key is meant)."""
        return []

    @classmethod
    def options_schema(cls) -> JSON | None:
        """The JSON Schema of the `provider:` mapping (with `type`) for this provider, or None
        (options unchecked before the provider is constructed)."""
        return None

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> SecretVerifier | None:
        """What checks delivered secrets for `keyform verify` (None: this provider can't)."""
        return None

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        """The `provider:` options `keyform export` writes (secrets as ${env:NAME} references)."""
        return {}

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

    def identity(self) -> str | None:
        """The address of the identity whose token keyform is using, if the API says."""
        return None

    def describe(self) -> str:
        """A printable name for the target (URL without credentials)."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections."""


def kind_of(provider: type[Provider] | Sequence[Kind], name: str) -> Kind | None:
    """The kind called `name` among a provider's kinds (or a list of kinds), or None."""
    kinds = provider if isinstance(provider, Sequence) else provider.kinds
    for spec in kinds:
        if spec.name == name:
            return spec
    return None


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
