"""The JSON Schema of the desired-state format, and validation with errors mapped to positions."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from keyform.config.document import DataPath, Document, dotted
from keyform.config.hints import did_you_mean, one_of, quote
from keyform.config.sizes import SIZE_PATTERN
from keyform.contract import Kind, Provider
from keyform.errors import KeyformError, Problem

if TYPE_CHECKING:
    import jsonschema

DURATION_PATTERN = "^[0-9]+[smhdw]$"
MOMENT_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z)?$"  # e.g. rotation_requested (UTC)
ENVREF_PATTERN = "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$"
DEFAULT_PROVIDER = "keyform"  # the built-in provider: `keyform schema` outside a project, and tests

_PATTERN_HINTS = {
    DURATION_PATTERN: "is not a duration: use a whole number and a unit (s, m, h, d or w), e.g. 90d",
    SIZE_PATTERN: "is not a size: use a whole number and KiB, MiB or GiB, e.g. 20MiB",
    MOMENT_PATTERN: "is not a UTC date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-01",
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
    return (files("keyform") / "schemas" / "settings.schema.json").read_text(encoding="utf-8")


@functools.cache
def _provider(provider_type: str) -> type[Provider] | None:
    from keyform.providers.registry import provider_class

    try:
        return provider_class(provider_type)
    except KeyformError:
        return None


def provider_kinds(provider_type: str) -> tuple[Kind, ...] | None:
    """The kinds `provider.type: provider_type` declares; None when no such provider loads
    (the semantic checks say why, and every other section is then left unchecked)."""
    provider = _provider(provider_type)
    return tuple(provider.kinds) if provider is not None else None


def sections(kinds: Sequence[Kind]) -> list[Kind]:
    """The kinds in the order messages list them: named kinds first, singletons last."""
    return [kind for kind in kinds if not kind.singleton] + [kind for kind in kinds if kind.singleton]


def address_forms(kinds: Sequence[Kind]) -> list[str]:
    """How each kind's addresses are written (`users/EMAIL`, `roles/NAME`, `organization`)."""
    named = [kind for kind in kinds if not kind.singleton]
    named.sort(key=lambda kind: kind.placeholder == "NAME")  # stable: kinds with a special placeholder first
    return [f"{kind.name}/{kind.placeholder}" for kind in named] + [kind.name for kind in kinds if kind.singleton]


def address_pattern(kinds: Sequence[Kind]) -> str:
    singles = "|".join(kind.name for kind in kinds if kind.singleton)
    named = "|".join(kind.name for kind in kinds if not kind.singleton)
    alternatives = [part for part in (singles, f"({named})/[^/\\s]+" if named else "") if part]
    return f"^({'|'.join(alternatives)})$"


def schema_document(provider_type: str = DEFAULT_PROVIDER) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a root desired-state file for `provider_type`, assembled
    from its kinds, as a fresh dict."""
    schema: dict[str, Any] = json.loads(_schema_text())
    provider = _provider(provider_type)
    options = provider.options_schema() if provider is not None else None
    if options is not None:
        section = schema["$defs"]["provider"]
        section["if"] = {"properties": {"type": {"const": provider_type}}, "required": ["type"]}
        section["then"] = dict(options)
    kinds = provider_kinds(provider_type)
    if kinds is None:
        schema["additionalProperties"] = True  # an unknown provider's sections can't be checked
        schema["$defs"]["includedFile"] = {"type": "object", "description": "A file named by include."}
        return schema
    defs, properties = schema["$defs"], schema["properties"]
    listed = sections(kinds)
    names = ", ".join(kind.name for kind in listed[:-1]) + f" or {listed[-1].name}" if listed else "nothing"
    defs["include"]["description"] = f"More files (glob patterns, relative to this file) holding {names}."
    forms = address_forms(kinds)
    protect = defs["safety"]["properties"]["protect"]
    protect["items"]["pattern"] = address_pattern(kinds)
    protect["description"] = f"Addresses ({', '.join(forms)}) never deleted, disabled or demoted."
    defs["removed"]["items"]["pattern"] = address_pattern(kinds)
    named_pattern = address_pattern([kind for kind in kinds if not kind.singleton])
    for end in ("from", "to"):
        defs["moved"]["items"]["properties"][end]["pattern"] = named_pattern
    for kind in kinds:
        properties[kind.name] = {"$ref": f"#/$defs/{kind.name}"}
        if kind.singleton:
            defs[kind.name] = dict(kind.schema)
            continue
        defs[kind.name] = {
            "type": "object",
            "description": kind.description,
            **({"propertyNames": dict(kind.names)} if kind.names else {}),
            "additionalProperties": {"$ref": f"#/$defs/{kind.name}.item"},
        }
        defs[f"{kind.name}.item"] = dict(kind.schema)
    held = ", ".join(kind.name for kind in listed)
    defs["includedFile"] = {
        "type": "object",
        "description": f"A file named by include: may hold {held}, moved and include only.",
        "additionalProperties": False,
        "properties": {
            **{k.name: {"$ref": f"#/$defs/{k.name}"} for k in listed},
            "include": {"$ref": "#/$defs/include"},
            "moved": {"$ref": "#/$defs/moved"},
        },
    }
    return schema


@functools.cache
def _schemas(provider_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The root file's schema and the included files' schema."""
    schema = schema_document(provider_type)
    included = {
        "$schema": schema["$schema"],
        "$ref": "#/$defs/includedFile",
        "$defs": schema["$defs"],
    }
    return schema, included


@functools.cache
def _validators(
    provider_type: str = DEFAULT_PROVIDER,
) -> tuple[jsonschema.Draft202012Validator, jsonschema.Draft202012Validator]:
    import jsonschema  # only an invalid file needs its messages

    root, included = _schemas(provider_type)
    return jsonschema.Draft202012Validator(root), jsonschema.Draft202012Validator(included)


@functools.cache
def _fast_validators(provider_type: str = DEFAULT_PROVIDER) -> tuple[Any, Any]:
    """Compiled (Rust) validators of the same schemas: a yes/no answer ~100x faster."""
    root, included = _schemas(provider_type)
    return jsonschema_rs.validator_for(root), jsonschema_rs.validator_for(included)


@functools.cache
def _hints(provider_type: str) -> dict[str, str]:
    """Pattern -> what a value that breaks it is not."""
    hints = dict(_PATTERN_HINTS)
    kinds = provider_kinds(provider_type) or ()
    for kind in kinds:
        pattern = kind.names.get("pattern")
        if pattern and kind.name_hint:
            hints.setdefault(pattern, kind.name_hint)
    if kinds:
        hints[address_pattern(kinds)] = f"is not an address: use {one_of(address_forms(kinds))}"
    return hints


def validate_document(document: Document, provider_type: str = DEFAULT_PROVIDER) -> list[Problem]:
    """Every schema violation of one file (the root schema, or the included-file schema).

    A valid file (the usual case) is confirmed by jsonschema-rs alone; only an invalid one is
    walked by jsonschema, whose errors carry what the messages need.
    """
    fast = _fast_validators(provider_type)[0 if document.is_root else 1]
    if fast.is_valid(document.data):
        return []
    root, included = _validators(provider_type)
    validator = root if document.is_root else included
    problems: dict[Problem, None] = {}
    hints = _hints(provider_type)
    for error in validator.iter_errors(document.data):
        for problem in _problems(error, document, hints):
            problems.setdefault(problem)
    return list(problems)


def _problems(error: jsonschema.ValidationError, document: Document, hints: dict[str, str]) -> list[Problem]:
    path: DataPath = tuple(error.absolute_path)
    where = dotted(path)
    prefix = f"{where}: " if where else ""
    kind = error.validator
    # a validator's error always has these (jsonschema types them "or Unset" for errors made by hand)
    value: Any = error.validator_value
    instance: Any = error.instance
    at = document.value_location(path)

    if "propertyNames" in error.absolute_schema_path:
        key = str(instance)
        at = document.key_location((*path, key))
        if kind == "pattern":
            return [Problem(at, f"{prefix}{quote(key)} {_pattern_hint(str(value), hints)}")]
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
        return [Problem(at, f"{prefix}{quote(str(instance))} {_pattern_hint(str(value), hints)}")]
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
    schema: Any = error.schema  # additionalProperties fails only in an object schema
    instance: Any = error.instance
    known = list(schema.get("properties", {}))
    where = f" in {dotted(path)}" if path else ""
    note = ""
    if not path and not document.is_root:
        held = [key for key in known if key != "include"]
        note = f" (an included file may hold only {one_of([*held, 'include'])})"
    return [
        Problem(
            document.key_location((*path, key)),
            f"unknown key {quote(key)}{where}{did_you_mean(key, known)}{note}",
        )
        for key in instance
        if key not in known
    ]


def _pattern_hint(pattern: str, hints: dict[str, str]) -> str:
    return hints.get(pattern, f"does not match {pattern}")


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
