"""The `personio` provider: Personio API credentials as code, made by hand in Personio's UI.

Personio has no API to create, change or delete API credentials, so keyform plans the changes as
a checklist for Settings > API credentials (steps.py), walks an admin through it on `apply`,
reads each new client id and secret through a hidden prompt into the sink, and keeps the record
(see `keyform.providers.manual`). `keyform verify` checks every delivered credential against
Personio's authentication API (verify.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any, ClassVar

from keyform.contract import Change, Kind, Risk, SecretVerifier, Step
from keyform.providers.keyform import rules
from keyform.providers.manual import ManualProvider
from keyform.providers.personio import steps
from keyform.providers.personio.kinds import KINDS
from keyform.providers.personio.verify import PersonioVerifier


class PersonioProvider(ManualProvider):
    kinds: ClassVar[tuple[Kind, ...]] = KINDS
    type_name = "personio"
    title = "Personio"

    def manual_steps(self, change: Change) -> list[Step]:
        return steps.steps(change)

    def secret_fields(self, change: Change) -> tuple[str, ...]:
        return steps.FIELDS

    def secret_shape(self, change: Change) -> tuple[str, tuple[str, ...]]:
        return "client_credentials", ("client_id",)

    def secret_id(self, change: Change, values: Mapping[str, str], now: Any) -> str:
        return values["client_id"]  # public, and what the admin sees in Personio's list

    def risks(self, change: Change) -> list[Risk]:
        return rules.flag_risks(change.address, change.before is None, change.before or {}, change.after or {})

    @classmethod
    def sensitive(cls, grant: str) -> bool:
        return rules.is_sensitive(grant)

    def weakens(self, change: Change) -> str:
        return rules.weakens(change)

    @classmethod
    def check_document(cls, data: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
        """Modules and attributes Personio does not know (custom attributes, dynamic_NNN, are allowed)."""
        return [
            problem
            for problem in rules.catalog_problems(data)
            if not (len(problem[0]) > 2 and problem[0][2] == "attributes" and _custom(data, problem[0]))
        ]

    @classmethod
    def options_schema(cls) -> Mapping[str, Any]:
        return _options()

    @classmethod
    def verifier(cls, options: Mapping[str, Any], session: Any = None) -> SecretVerifier | None:
        return PersonioVerifier(options, session)


def _custom(data: Mapping[str, Any], path: tuple[str | int, ...]) -> bool:
    value: Any = data
    for part in path:
        value = value[part]
    return isinstance(value, str) and value.startswith("dynamic_")


@cache
def _options() -> dict[str, Any]:
    options: dict[str, Any] = json.loads((files(__package__) / "options.json").read_text(encoding="utf-8"))
    return options
