"""The provider contract now lives in `keyform.contract`; this name stays for existing imports."""

from keyform.contract import (
    ApplyOutcome,
    GeneratedSecret,
    Kind,
    LiveResource,
    LockedError,
    Provider,
    SecretInfo,
    StaleChangeError,
)

__all__ = [
    "ApplyOutcome",
    "GeneratedSecret",
    "Kind",
    "LiveResource",
    "LockedError",
    "Provider",
    "SecretInfo",
    "StaleChangeError",
]
