"""One root exception; every error a user can cause is a KeyformError with a one-line message.

The CLI prints `str(error)` and exits 1; nothing below the CLI prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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


class RootNotFoundError(ConfigError):
    """No root desired-state file (`file_name`) where one was looked for (`directory`)."""

    def __init__(self, message: str, *, directory: Path, file_name: str):
        self.directory = directory
        self.file_name = file_name
        super().__init__([Problem(None, message)])


class ProviderError(KeyformError):
    """The live credential API refused or failed a request."""


class UnsafePlanError(KeyformError):
    """A plan breaks safety thresholds (which `allow_unsafe` overrides) or invariants (which nothing overrides)."""

    def __init__(self, thresholds: list[str], invariants: list[str]):
        self.thresholds = list(thresholds)
        self.invariants = list(invariants)
        super().__init__("unsafe plan: " + "; ".join(self.thresholds + self.invariants))


class AddressError(KeyformError):
    """An address given to plan by (`targets`, `replace`) names nothing it can act on."""

    def __init__(self, setting: str, address: str, problem: str):
        self.setting = setting
        self.address = address
        self.problem = problem
        super().__init__(f"{setting} {address}: {problem}")


class PlanFileError(KeyformError):
    """A saved plan file can't be read or written (`missing`: there is none at `path`)."""

    def __init__(self, message: str, *, path: Path, missing: bool = False, writing: bool = False):
        self.path = path
        self.missing = missing
        self.writing = writing
        super().__init__(message)


class StalePlanError(KeyformError):
    """A saved plan can't be applied here any more: made for another API, desired state or sink,
    or applied already (`applied_at` says when)."""

    def __init__(self, message: str, *, path: Path, applied_at: str | None = None):
        self.path = path
        self.applied_at = applied_at
        super().__init__(message)


class ExportWriteError(KeyformError):
    """An export can't be written to its folder: files are in the way (`existing`) or the folder is unusable."""

    def __init__(self, message: str, *, existing: int = 0):
        self.existing = existing
        super().__init__(message)


class ApprovalNeededError(KeyformError):
    """Applying needs a yes, and no one is there to give it."""


class SecretSinkError(KeyformError):
    """A secret could not be delivered to, or the sink cannot accept, new secrets."""
