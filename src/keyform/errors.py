"""One root exception; every error a user can cause is a KeyformError with a one-line message.

The CLI prints `str(error)` and exits 1; nothing below the CLI prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass


class KeyformError(Exception):
    """Root of every error keyform reports to a user (message: what, where, how to fix)."""


@dataclass(frozen=True)
class Location:
    """A place in a desired-state file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding of validation: where it is and what is wrong."""

    location: Location | None
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(KeyformError):
    """The desired state is invalid; carries every problem found, one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ProviderError(KeyformError):
    """The live credential API refused or failed a request."""


class UnsafePlanError(KeyformError):
    """A plan breaks a safety threshold or invariant; `--allow-unsafe` overrides thresholds."""


class StalePlanError(KeyformError):
    """A saved plan no longer matches the live state it was made against."""


class SecretSinkError(KeyformError):
    """A secret could not be delivered to, or the sink cannot accept, new secrets."""
