"""Request body checks against the component schemas of the served OpenAPI document."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from keyform.server.errors import invalid

OPENAPI_URI = "urn:keyform:credential-api"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def openapi_bytes() -> bytes:
    """The OpenAPI document as shipped in the package."""
    return resources.files("keyform").joinpath("schemas/credential-api.openapi.yaml").read_bytes()


@cache
def openapi_document() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, Any] = yaml.load(openapi_bytes(), Loader=loader)
    return document


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(OPENAPI_URI, resource)
    return registry


@cache
def schema_validator(name: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<name>` of the OpenAPI document."""
    if name not in openapi_document()["components"]["schemas"]:
        raise KeyError(f"no component schema {name!r}")
    schema = {"$ref": f"{OPENAPI_URI}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=_registry())


@cache
def _fast_validator(name: str) -> jsonschema_rs.Validator:
    """The same component schema compiled by jsonschema-rs: it checks a body in microseconds.

    It only says yes or no; the Python validator, a hundred times slower, names the offending
    field of a body it refused, so messages don't depend on which library checked first.
    """
    components = openapi_document()["components"]
    schema = {"$schema": DRAFT_2020_12, "$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema_rs.validator_for(schema, validate_formats=False)


def validate_body(name: str, body: dict[str, Any]) -> None:
    """422 validation_error naming the first offending field."""
    if _fast_validator(name).is_valid(body):
        return
    error = best_match(schema_validator(name).iter_errors(body))
    if error is None:
        return
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise invalid(f"body{where}: {error.message}")


def check_email(email: str) -> str:
    """The email as given, or 422 if it does not look like an address."""
    if len(email) > 254 or not EMAIL.match(email):
        raise invalid(f"{email!r} is not a valid email address (expected name@domain.tld)")
    return email
