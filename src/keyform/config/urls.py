"""Whether a URL setting is an http(s) URL keyform can call: one rule for `validate` and run time."""

from __future__ import annotations

import re
from collections.abc import Mapping

from keyform.config.document import Document
from keyform.config.envref import REFERENCE, reference_errors
from keyform.config.hints import quote
from keyform.errors import Problem
from keyform.providers.http import url_problem

EXAMPLE = "https://keyform.example.com"
_SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def provider_url_problems(
    document: Document, environ: Mapping[str, str], *, resolve: bool, resolved: Mapping[str, object] | None
) -> list[Problem]:
    """The problem with the keyform provider's `url` in the root file, if any.

    A literal is checked as written; a `${env:NAME}` reference once resolved (not at all when
    references are not resolved, or when one is unset: that is reported already).
    """
    provider = document.data.get("provider") if isinstance(document.data, dict) else None
    if not isinstance(provider, dict) or provider.get("type") != "keyform":
        return []
    written = provider.get("url")
    if not isinstance(written, str) or not written:
        return []  # the schema reports it
    names = REFERENCE.findall(written)
    if names:
        if not resolve or reference_errors(written) or any(not environ.get(name) for name in names):
            return []
        value = (resolved or {}).get("url")
        why = url_problem(value) if isinstance(value, str) else None
        if why is None:
            return []
        variables = ", ".join(names)
        message = f"provider.url: expected an http(s) URL like {EXAMPLE}, but {written} resolves to a value where {why}"
        return [Problem(document.value_location(("provider", "url")), f"{message}: set {variables} to such a URL")]
    why = url_problem(written)
    if why is None:
        return []
    hint = f" ({why})"
    variable = _SHELL_VARIABLE.fullmatch(written)
    if variable:
        hint = f" (did you mean ${{env:{variable.group(1)}}}?)"
    message = f"provider.url: expected an http(s) URL like {EXAMPLE}, got {quote(written)}{hint}"
    return [Problem(document.value_location(("provider", "url")), message)]
