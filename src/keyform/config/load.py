"""Find the root file and load a desired state: files -> schema -> references -> semantics -> model.

Every phase reports all it finds; a later phase's problem at a place an earlier phase already
flagged is dropped (one reason per place is clearer than a cascade).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from keyform.config import semantics
from keyform.config.build import build_state
from keyform.config.document import Document
from keyform.config.envref import resolve_section
from keyform.config.includes import ALLOW_OUTSIDE, INCLUDED_CONTENT, load_tree
from keyform.config.leaks import find_leaks
from keyform.config.merge import merge
from keyform.config.schema import DEFAULT_PROVIDER, provider_kinds, sections, validate_document
from keyform.config.sizes import DEFAULT_MAX_BYTES, ENV_NAME, parse_size
from keyform.config.urls import provider_url_problems
from keyform.contract import Provider
from keyform.errors import ConfigError, KeyformError, Location, Problem
from keyform.model import DesiredState
from keyform.providers.registry import provider_class


def load_desired_state(
    root: Path, *, environ: Mapping[str, str] | None = None, resolve_env: bool = True
) -> DesiredState:
    """Load, validate and build the desired state of `root` and its includes.

    With `resolve_env=False`, `${env:NAME}` references are checked for syntax only and kept as
    written. Raises ConfigError carrying every problem found.
    """
    environ = os.environ if environ is None else environ
    max_bytes = DEFAULT_MAX_BYTES
    if environ.get(ENV_NAME):
        try:
            max_bytes = parse_size(environ[ENV_NAME])
        except ValueError as error:
            raise ConfigError([Problem(None, f"{ENV_NAME}: {error}")]) from None
    tree = load_tree(
        root,
        included_content=_included_content,
        allow_outside=_switched_on(environ.get(ALLOW_OUTSIDE)),
        max_bytes=max_bytes,
    )
    if not tree.documents:  # the root file itself could not be read or parsed
        raise ConfigError(tree.problems)
    root_document = tree.documents[0]
    provider, provider_problems = resolve_section(root_document, "provider", environ, resolve=resolve_env)
    secrets, secrets_problems = resolve_section(root_document, "secrets", environ, resolve=resolve_env)
    url_problems = provider_url_problems(root_document, environ, resolve=resolve_env, resolved=provider)
    provider_type = _provider_type(root_document)
    kinds = provider_kinds(provider_type) or ()
    merged, merge_problems = merge(tree.documents, kinds)
    phases = [
        tree.problems,
        provider_problems + secrets_problems,
        [problem for document in tree.documents for problem in find_leaks(document)],
        [problem for document in tree.documents for problem in validate_document(document, provider_type)],
        merge_problems,
        semantics.check(merged, kinds, provider=_provider_class(provider_type), complete=tree.complete),
        url_problems,
    ]
    problems = _combine(phases, [document.display for document in tree.documents])
    if problems or provider is None:  # provider is required: no problems means it is there
        raise ConfigError(problems)
    return build_state(merged, provider, secrets, root, kinds)


def _provider_type(root: Document) -> str:
    """`provider.type` of the root file: its kinds shape the rest of the document."""
    data = root.data if isinstance(root.data, dict) else {}
    section = data.get("provider")
    kind = section.get("type") if isinstance(section, dict) else None
    return kind if isinstance(kind, str) and kind else DEFAULT_PROVIDER


def _included_content(root: Document) -> str:
    """What an included file may hold: the sections of the root's provider's kinds, or include."""
    names = [kind.name for kind in sections(provider_kinds(_provider_type(root)) or ())]
    return f"{', '.join(names)} or include" if names else INCLUDED_CONTENT


def _provider_class(provider_type: str) -> type[Provider] | None:
    try:
        return provider_class(provider_type)
    except KeyformError:
        return None


def _switched_on(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _combine(phases: list[list[Problem]], files: list[str]) -> list[Problem]:
    """All problems in file order, then position; later phases yield places already flagged."""
    flagged: set[Location] = set()
    problems: list[Problem] = []
    for phase in phases:
        fresh = [p for p in phase if p.location is None or p.location not in flagged]
        flagged.update(p.location for p in fresh if p.location is not None)
        problems.extend(fresh)
    order = {name: index for index, name in enumerate(files)}

    def position(problem: Problem) -> tuple[int, int, int]:
        at = problem.location
        if at is None:
            return (-1, 0, 0)
        return (order.get(at.file, len(order)), at.line, at.column)

    return sorted(dict.fromkeys(problems), key=position)
