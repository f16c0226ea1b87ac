"""The `aws-iam` provider: IAM users (with access keys), groups and customer-managed policies.

Importing this module does not import boto3: the kinds, the schema and `keyform validate` work
without it. Connecting (read, apply, verify) needs `pip install 'keyform[aws]'` and says so in
one line when boto3 is missing.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from keyform.contract import (
    Action,
    ApplyOutcome,
    Change,
    LiveResource,
    Provider,
    Risk,
    SecretVerifier,
    StaleChangeError,
)
from keyform.errors import ProviderError
from keyform.providers.aws_iam import rules, stale
from keyform.providers.aws_iam.kinds import KINDS, options_schema

if TYPE_CHECKING:
    from keyform.plan.plan import Plan
    from keyform.providers.aws_iam.backend import IamBackend
    from keyform.providers.aws_iam.client import Settings

INSTALL = "provider.type aws-iam needs boto3, which is not installed: pip install 'keyform[aws]'"
TEXT_OPTIONS = ("profile", "access_key_id", "secret_access_key", "session_token", "endpoint_url", "region")
NUMBER_OPTIONS = ("max_attempts", "workers")


def connecting(module: str) -> ModuleType:
    """A module of this package that needs boto3; one line naming the fix when boto3 is missing."""
    try:
        return importlib.import_module(f"keyform.providers.aws_iam.{module}")
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in ("boto3", "botocore"):
            raise ProviderError(INSTALL) from None
        raise


def settings_from(options: Mapping[str, Any]) -> Settings:
    """The client settings from the `provider:` options (checked by the options schema already)."""
    client = connecting("client")
    values: dict[str, Any] = {}
    for key in TEXT_OPTIONS:
        if options.get(key) not in (None, ""):
            values[key] = str(options[key])
    for key in NUMBER_OPTIONS:
        if options.get(key) is not None:
            try:
                values[key] = int(options[key])
            except (TypeError, ValueError):
                raise ProviderError(f"provider.{key} must be a whole number, not {options[key]!r}") from None
    settings: Settings = client.Settings(**values)
    return settings


class AwsIamProvider(Provider):
    """Reads with GetAccountAuthorizationDetails plus one ListAccessKeys per user; applies one change per call."""

    kinds = KINDS

    def __init__(self, options: Mapping[str, Any]):
        self.options = dict(options)
        self._backend: IamBackend | None = None
        self._live: Mapping[str, LiveResource] | None = None  # what the plan saw, once read
        self._lock = threading.Lock()

    @property
    def backend(self) -> IamBackend:
        if self._backend is None:
            self._backend = connecting("backend").IamBackend(settings_from(self.options))
        return self._backend

    def read(self) -> dict[str, LiveResource]:
        live = self.backend.read()
        self._live = live
        return live

    def apply(self, change: Change) -> ApplyOutcome:
        moved = stale.moved(change, self._checked_against())
        if moved:
            raise StaleChangeError(change.address, moved)
        return self.backend.apply(change)

    def _checked_against(self) -> Mapping[str, LiveResource]:
        """What changes are checked against: this provider's read (it made the plan), else one fresh
        read before the first change (a saved plan)."""
        with self._lock:
            if self._live is None:
                self._live = self.backend.read()
            return self._live

    def requests_sent(self) -> int:
        return 0 if self._backend is None else self._backend.client.requests.total

    def describe(self) -> str:
        return self.backend.describe()

    def identity(self) -> str | None:
        return self.backend.identity()

    # -- the engine's hooks ---------------------------------------------------------------------

    def generates_secret(self, change: Change) -> bool:
        if change.kind != "users" or change.action == Action.DELETE:
            return False
        if change.action == Action.ROTATE:
            return change.details.get("phase") != "revoke"
        had, wanted = (change.before or {}).get("access_key_enabled"), (change.after or {}).get("access_key_enabled")
        return wanted is not None and (had is None or change.action == Action.CREATE)

    def risks(self, change: Change) -> list[Risk]:
        return rules.change_risks(change, self._live or {})

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        """No grant escalates by itself: `risks` names escalations with the identity and statement."""
        return False

    def weakens(self, change: Change) -> str:
        return rules.weakens(change)

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        return rules.third_key_problems(plan.meta.get("replace") or (), plan.changes, live)

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        return rules.unknown_policies(data)

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        return options_schema()

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> SecretVerifier:
        verifier: SecretVerifier = connecting("verify").AccessKeyVerifier(settings_from(options))
        return verifier

    @classmethod
    def export_settings(cls) -> dict[str, Any]:
        return {}  # the standard AWS chain: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL

    def close(self) -> None:
        self._backend = None
