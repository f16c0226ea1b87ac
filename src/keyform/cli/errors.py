"""Library errors in the command line's words: the flag that fixes them, where one does.

Errors below the command line name settings, never flags; this is the one place that says which
flag a user passes instead.
"""

from __future__ import annotations

from keyform.errors import (
    AddressError,
    ApprovalNeededError,
    ExportWriteError,
    KeyformError,
    PlanFileError,
    RootNotFoundError,
    StalePlanError,
    UnsafePlanError,
)


def user_message(error: KeyformError) -> str:
    """The one line the command prints after "Error: "."""
    if isinstance(error, UnsafePlanError):
        return f"{error}{_unsafe_hint(error)}"
    if isinstance(error, RootNotFoundError):
        return f"no {error.file_name} in {error.directory} (create one, or pass --config FILE)"
    if isinstance(error, AddressError):
        return f"--{error.setting} {error.address}: {error.problem}"
    if isinstance(error, ApprovalNeededError):
        return f"{error}; pass --auto-approve or apply a reviewed plan file"
    if isinstance(error, PlanFileError) and error.missing:
        return f"{error}: make one with `keyform plan --out {error.path}`"
    if isinstance(error, PlanFileError) and error.writing:
        return f"{error}: choose another --out path"
    if isinstance(error, ExportWriteError) and error.existing:
        them = "it" if error.existing == 1 else "them"
        return f"{error}: pass --force to replace {them}, or choose another --out folder"
    if isinstance(error, ExportWriteError):
        return f"{error}: choose another --out folder"
    if isinstance(error, StalePlanError) and error.applied_at is not None:
        return f"{error}; make a new one with `keyform plan --out {error.path}`"
    return str(error)


def _unsafe_hint(error: UnsafePlanError) -> str:
    """What --allow-unsafe can do about these problems: it overrides thresholds, never invariants."""
    if not error.invariants:
        return " (re-run with --allow-unsafe if this is intended)"
    if not error.thresholds:
        return " (--allow-unsafe does not override this)"
    return " (--allow-unsafe overrides only the safety thresholds, not the rest)"
