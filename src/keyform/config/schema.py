"""The JSON Schema of the desired-state format, and validation with errors mapped to positions."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from keyform.config.document import DataPath, Document, dotted
from keyform.config.hints import did_you_mean, one_of, quote
from keyform.config.sizes import SIZE_PATTERN
from keyform.errors import Problem

if TYPE_CHECKING:
    import jsonschema

NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,62}$"
EMAIL_PATTERN = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"
DURATION_PATTERN = "^[0-9]+[smhdw]$"
ADDRESS_PATTERN = "^(organization|(roles|users|credentials)/[^/\\s]+)$"
ENVREF_PATTERN = "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$"

INCLUDED_SECTIONS = ("roles", "users", "credentials", "organization", "include")

_PATTERN_HINTS = {
    NAME_PATTERN: "is not a valid name: use up to 63 lowercase letters, digits, '.', '_' or '-',"
    " starting with a letter or digit",
    EMAIL_PATTERN: "is not an email address",
    DURATION_PATTERN: "is not a duration: use a whole number and a unit (s, m, h, d or w), e.g. 90d",
    SIZE_PATTERN: "is not a size: use a whole number and KiB, MiB or GiB, e.g. 20MiB",
    ADDRESS_PATTERN: "is not an address: use users/EMAIL, roles/NAME, credentials/NAME or organization",
}
_KINDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
}


@functools.cache
def _schema_text() -> str:
    return (files("keyform") / "schemas" / "keyform.schema.json").read_text(encoding="utf-8")


def schema_document() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a root desired-state file, as a fresh dict."""
    return json.loads(_schema_text())


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The root file's schema and the included files' schema."""
    schema = schema_document()
    included = {
        "$schema": schema["$schema"],
        "$ref": "#/$defs/includedFile",
        "$defs": schema["$defs"],
    }
    return schema, included


@functools.cache
def _validators() -> tuple[jsonschema.Draft202012Validator, jsonschema.Draft202012Validator]:
    import jsonschema  # only an invalid file needs its messages

    root, included = _schemas()
    return jsonschema.Draft202012Validator(root), jsonschema.Draft202012Validator(included)


@functools.cache
def _fast_validators() -> tuple[Any, Any]:
    """Compiled (Rust) validators of the same schemas: a yes/no answer ~100x faster."""
    root, included = _schemas()
    return jsonschema_rs.validator_for(root), jsonschema_rs.validator_for(included)


def validate_document(document: Document) -> list[Problem]:
    """Every schema violation of one file (the root schema, or the included-file schema).

    A valid file (the usual case) is confirmed by jsonschema-rs alone; only an invalid one is
    walked by jsonschema, whose errors carry what the messages need.
    """
    fast = _fast_validators()[0 if document.is_root else 1]
    if fast.is_valid(document.data):
        return []
    root, included = _validators()
    validator = root if document.is_root else included
    problems: dict[Problem, None] = {}
    for error in validator.iter_errors(document.data):
        for problem in _problems(error, document):
            problems.setdefault(problem)
    return list(problems)


def _problems(error: jsonschema.ValidationError, document: Document) -> list[Problem]:
    path: DataPath = tuple(error.absolute_path)
    where = dotted(path)
    prefix = f"{where}: " if where else ""
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    at = document.value_location(path)

    if "propertyNames" in error.absolute_schema_path:
        key = str(instance)
        at = document.key_location((*path, key))
        if kind == "pattern":
            return [Problem(at, f"{prefix}{quote(key)} {_pattern_hint(str(value))}")]
        return [Problem(at, f"{prefix}{quote(key)} is too long")]
    if kind == "additionalProperties" and isinstance(instance, dict):
        return _unknown_keys(error, document, path)
    if kind == "required" and isinstance(instance, dict):
        at = document.key_location(path)
        return [Problem(at, f"{prefix}missing required key {quote(key)}") for key in value if key not in instance]
    if kind == "type":
        expected = [value] if isinstance(value, str) else list(value)
        wanted = one_of(_KINDS.get(name, name) for name in expected)
        return [Problem(at, f"{prefix}expected {wanted}, got {_kind_of(instance)}")]
    if kind in ("enum", "const"):
        choices = list(value) if kind == "enum" else [value]
        shown = one_of(c if isinstance(c, str) else json.dumps(c) for c in choices)
        got = ""
        if isinstance(instance, str):
            words = [choice for choice in choices if isinstance(choice, str)]
            got = f", not {quote(instance)}{did_you_mean(instance, words)}"
        return [Problem(at, f"{prefix}must be {shown}{got}")]
    if kind == "pattern":
        if value == ENVREF_PATTERN:  # never echo what may be a secret
            return [Problem(at, f"{where} must be an ${{env:NAME}} reference")]
        return [Problem(at, f"{prefix}{quote(str(instance))} {_pattern_hint(str(value))}")]
    if kind in _BOUNDS:
        return [Problem(at, f"{prefix}must be {_BOUNDS[kind]} {value}")]
    if kind == "minLength":
        return [Problem(at, f"{prefix}must not be empty")]
    if kind == "maxLength":
        return [Problem(at, f"{prefix}is longer than {value} characters")]
    if kind == "minItems":
        return [Problem(at, f"{prefix}must list at least {value} item(s)")]
    if kind == "uniqueItems":
        return [Problem(at, f"{prefix}lists the same item more than once")]
    return [Problem(at, f"{prefix}is not valid here ({kind})")]


def _unknown_keys(error: jsonschema.ValidationError, document: Document, path: DataPath) -> list[Problem]:
    known = list(error.schema.get("properties", {}))
    where = f" in {dotted(path)}" if path else ""
    note = ""
    if not path and not document.is_root:
        note = f" (an included file may hold only {one_of(INCLUDED_SECTIONS)})"
    return [
        Problem(
            document.key_location((*path, key)),
            f"unknown key {quote(key)}{where}{did_you_mean(key, known)}{note}",
        )
        for key in error.instance
        if key not in known
    ]


def _pattern_hint(pattern: str) -> str:
    return _PATTERN_HINTS.get(pattern, f"does not match {pattern}")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing (null)"
