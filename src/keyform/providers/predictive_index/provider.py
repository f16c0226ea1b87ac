"""The `predictive-index` provider: PI users and their API keys as code, made by hand in PI's
Administration > User Management.

PI has no API to create users or generate keys, so keyform plans the changes as a checklist
(steps.py; Account-Owner-only steps marked), walks an admin through it on `apply`, reads each
generated key through a hidden prompt into the sink, and keeps the record (see
`keyform.providers.manual`). `keyform verify` checks every delivered key against PI's API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, ClassVar

from keyform.contract import Change, Kind, LiveResource, Risk, SecretVerifier, Step
from keyform.providers.keyform import rules
from keyform.providers.manual import ManualProvider
from keyform.providers.predictive_index import steps
from keyform.providers.predictive_index.kinds import KINDS
from keyform.providers.predictive_index.verify import PredictiveIndexVerifier

if TYPE_CHECKING:
    from keyform.plan.plan import Plan


class PredictiveIndexProvider(ManualProvider):
    kinds: ClassVar[tuple[Kind, ...]] = KINDS
    type_name = "predictive-index"
    title = "Predictive Index"

    def manual_steps(self, change: Change) -> list[Step]:
        return steps.steps(change)

    def secret_enabled(self, attributes: Mapping[str, Any] | None) -> bool | None:
        return (attributes or {}).get("api_key_enabled")

    def secret_fields(self, change: Change) -> tuple[str, ...]:
        return steps.FIELDS if change.kind == "users" else ()

    def secret_shape(self, change: Change) -> tuple[str, tuple[str, ...]]:
        return "api_key", ()

    def risks(self, change: Change) -> list[Risk]:
        return rules.flag_risks(change.address, change.before is None, change.before or {}, change.after or {})

    def rotation_risks(self, change: Change) -> list[Risk]:
        return rules.rotation_risks(change)

    def weakens(self, change: Change) -> str:
        return rules.weakens(change)

    def invariants(self, plan: Plan, live: Mapping[str, LiveResource]) -> list[str]:
        return rules.owner_problems(plan.changes, live)

    def runs_last(self, change: Change) -> bool:
        return rules.runs_last(change)

    @classmethod
    def options_schema(cls) -> Mapping[str, Any]:
        return _options()

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> SecretVerifier | None:
        return PredictiveIndexVerifier(options, session)


@cache
def _options() -> dict[str, Any]:
    options: dict[str, Any] = json.loads((files(__package__) / "options.json").read_text(encoding="utf-8"))
    return options
