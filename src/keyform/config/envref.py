"""`${env:NAME}` references under `provider:` and `secrets:`, and the ban on literal secrets there.

References are the only way a secret (an API token, a password) gets into the desired state:
they are resolved here, in one place, and a literal value under a secret-named key is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keyform.config.document import DataPath, Document, dotted
from keyform.config.hints import printable
from keyform.errors import Problem

REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
PLUGIN_SECTIONS = ("provider", "secrets")
SECRET_KEYS = frozenset({"token", "password", "secret", "client_secret", "api_key"})
SECRET_SUFFIXES = ("_token", "_secret", "_password")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_secret_key(key: object) -> bool:
    """Whether a key under provider:/secrets: names a secret (its value must be a reference)."""
    return isinstance(key, str) and (key in SECRET_KEYS or key.endswith(SECRET_SUFFIXES))


def reference_errors(text: str) -> list[str]:
    """Why the `${...}` forms in `text` are not valid `${env:NAME}` references (empty: all fine)."""
    errors = []
    start = text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            errors.append("unclosed '${': write references as ${env:NAME}")
            break
        inner = text[start + 2 : end]
        shown = printable(inner if len(inner) <= 40 else inner[:37] + "...")
        if not inner.startswith("env:"):
            errors.append(f"'${{{shown}}}' is not a reference keyform understands: use ${{env:NAME}}")
        elif inner == "env:":
            errors.append("'${env:}' names no variable: use ${env:NAME}")
        elif not _NAME.fullmatch(inner[4:]):
            errors.append(
                f"'${{{shown}}}' is not a valid variable name (letters, digits and '_', not starting with a digit)"
            )
        start = text.find("${", end)
    return errors


def resolve_section(
    document: Document, section: str, environ: Mapping[str, str], *, resolve: bool
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The `section` mapping of the root file with references resolved (kept literal when not
    `resolve`), and every problem: bad references, unset variables, literal secrets."""
    data = document.data.get(section) if isinstance(document.data, dict) else None
    if not isinstance(data, dict):
        return None, []
    problems: list[Problem] = []
    resolved = _walk(data, (section,), document, environ, resolve, problems)
    return resolved, problems


def _walk(
    value: Any,
    path: DataPath,
    document: Document,
    environ: Mapping[str, str],
    resolve: bool,
    problems: list[Problem],
) -> Any:
    if path and is_secret_key(path[-1]) and not (isinstance(value, str) and REFERENCE.fullmatch(value)):
        problems.append(
            Problem(
                document.value_location(path),
                f"{dotted(path)} must be an ${{env:NAME}} reference, not a literal secret"
                " (put the value in an environment variable)",
            )
        )
        return value
    if isinstance(value, dict):
        return {key: _walk(item, (*path, key), document, environ, resolve, problems) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, index), document, environ, resolve, problems) for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    errors = reference_errors(value)
    for error in errors:
        problems.append(Problem(document.value_location(path), f"{dotted(path)}: {error}"))
    if errors or not resolve:
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        found = environ.get(name)
        if found is None or found == "":
            state = "not set" if found is None else "empty"
            problems.append(
                Problem(
                    document.value_location(path), f"environment variable {name} is {state} (used by {dotted(path)})"
                )
            )
            return ""
        return found

    return REFERENCE.sub(substitute, value)
