"""Policy documents in one canonical form, so a re-serialised but equal document compares equal.

AWS returns policy documents URL-encoded; people write them with a single string where AWS
allows a list, in any key order. The canonical form is a plain dict: URL-decoded, parsed,
`Statement` always a list, and every value that is a set of strings in IAM's grammar (`Action`,
`NotAction`, `Resource`, `NotResource`, principal and condition values) a sorted list without
duplicates. Statement order is kept (AWS keeps it; reviewers read it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from keyform.errors import ProviderError

SET_KEYS = ("Action", "NotAction", "Resource", "NotResource")
PRINCIPAL_KEYS = ("Principal", "NotPrincipal")


def _string_set(value: Any) -> Any:
    """A string or a list of strings -> a sorted list without duplicates; anything else as is."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(set(value))
    return value


def _principal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _string_set(item) for key, item in sorted(value.items())}
    return value  # "*"


def _condition(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {
        operator: {key: _string_set(item) for key, item in sorted(pairs.items())}
        if isinstance(pairs, Mapping)
        else pairs
        for operator, pairs in sorted(value.items())
    }


def _statement(statement: Any) -> Any:
    if not isinstance(statement, Mapping):
        return statement
    out: dict[str, Any] = {}
    for key, value in sorted(statement.items()):
        if key in SET_KEYS:
            out[key] = _string_set(value)
        elif key in PRINCIPAL_KEYS:
            out[key] = _principal(value)
        elif key == "Condition":
            out[key] = _condition(value)
        else:
            out[key] = value
    return out


def parse_document(document: str | Mapping[str, Any], where: str) -> dict[str, Any]:
    """A policy document as a dict: from a dict, JSON text, or AWS's URL-encoded JSON text."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProviderError(
            f"{where}: the policy document is not valid JSON ({error.msg} at line {error.lineno}); fix the document"
        ) from None
    if not isinstance(parsed, dict):
        raise ProviderError(f"{where}: a policy document must be a JSON object; fix the document")
    return parsed


def normalize_document(document: str | Mapping[str, Any], where: str = "policy") -> dict[str, Any]:
    """The canonical form of a policy document (see the module docstring)."""
    parsed = parse_document(document, where)
    out: dict[str, Any] = {}
    for key, value in sorted(parsed.items()):
        if key == "Statement":
            statements = value if isinstance(value, list) else [value]
            out[key] = [_statement(statement) for statement in statements]
        else:
            out[key] = value
    return out


def to_json(document: Mapping[str, Any]) -> str:
    """Compact JSON text for the IAM API (canonical key order, so equal documents send equal text)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def statements(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, statement) pairs of a canonical document: the Sid if set, else `statement N` (1-based)."""
    out = []
    for index, statement in enumerate(document.get("Statement") or (), start=1):
        if isinstance(statement, Mapping):
            sid = statement.get("Sid")
            out.append((f"statement {sid!r}" if sid else f"statement {index}", statement))
    return out
