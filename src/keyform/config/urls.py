"""Whether the provider's URL settings are http(s) URLs keyform can call: one rule for `validate` and run time."""

from __future__ import annotations

import re
from collections.abc import Mapping

from keyform.config.document import Document
from keyform.config.envref import REFERENCE, reference_errors
from keyform.config.hints import quote
from keyform.errors import Problem
from keyform.urls import url_problem

EXAMPLE = "https://keyform.example.com"
_SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def provider_url_problems(
    document: Document, environ: Mapping[str, str], *, resolve: bool, resolved: Mapping[str, object] | None
) -> list[Problem]:
    """The problems with the provider's URL options in the root file: `url` and every `*_url`.

    A literal is checked as written; a `${env:NAME}` reference once resolved (not at all when
    references are not resolved, or when one is unset: that is reported already).
    """
    provider = document.data.get("provider") if isinstance(document.data, dict) else None
    if not isinstance(provider, dict):
        return []
    return [
        problem
        for key in provider
        if isinstance(key, str) and (key == "url" or key.endswith("_url"))
        for problem in _url_problems(document, key, provider[key], environ, resolve=resolve, resolved=resolved)
    ]


def _url_problems(
    document: Document,
    key: str,
    written: object,
    environ: Mapping[str, str],
    *,
    resolve: bool,
    resolved: Mapping[str, object] | None,
) -> list[Problem]:
    if not isinstance(written, str) or not written:
        return []  # the schema reports it
    setting = f"provider.{key}"
    names = REFERENCE.findall(written)
    if names:
        if not resolve or reference_errors(written) or any(not environ.get(name) for name in names):
            return []
        value = (resolved or {}).get(key)
        why = url_problem(value) if isinstance(value, str) else None
        if why is None:
            return []
        variables = ", ".join(names)
        message = f"{setting}: expected an http(s) URL like {EXAMPLE}, but {written} resolves to a value where {why}"
        return [Problem(document.value_location(("provider", key)), f"{message}: set {variables} to such a URL")]
    why = url_problem(written)
    if why is None:
        return []
    hint = f" ({why})"
    variable = _SHELL_VARIABLE.fullmatch(written)
    if variable:
        hint = f" (did you mean ${{env:{variable.group(1)}}}?)"
    at = document.value_location(("provider", key))  # positions cost a second parse: only for a problem
    return [Problem(at, f"{setting}: expected an http(s) URL like {EXAMPLE}, got {quote(written)}{hint}")]
