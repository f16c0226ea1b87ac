"""The secret sink contract: check first, then take each new secret before apply moves on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from keyform.contract import GeneratedSecret


class SecretSink(ABC):
    """Where newly generated secrets go, and nowhere else."""

    thread_safe = False  # True: apply may call deliver from several workers at once

    @abstractmethod
    def preflight(self) -> None:
        """Raise SecretSinkError if the sink can't take secrets now (checked before the first change)."""

    @abstractmethod
    def deliver(self, secret: GeneratedSecret) -> None:
        """Store the secret durably (flushed) before returning; raise SecretSinkError on failure."""

    @abstractmethod
    def describe(self) -> str:
        """Where secrets go, for people (a path or a URL without credentials)."""

    def retire(self, address: str) -> None:  # noqa: B027 (optional hook)
        """Mark the entry of a resource apply deleted as retired (its secret died with it).

        Called after each delete apply carries out, for any address (nothing to do when the sink
        holds no entry for it). Sinks that keep a readable document replace the entry by one without
        the secret values, with `retired_at`; sinks keyform can't edit keep what they have (each
        documents what happens). Raise SecretSinkError on failure.
        """

    def move(self, source: str, target: str) -> None:  # noqa: B027 (optional hook)
        """Move the entry at `source` to `target`: apply renamed the resource in place (`moved:`)
        and its secret still works, now under the new address.

        Called before the API renames the resource, and again with the addresses swapped if the
        rename fails, so a run killed in between leaves the entry where the next run looks for it.
        Nothing to do when there is no entry at `source`; an entry at `target` is replaced. Sinks
        keyform can't edit keep what they have (each documents what happens). Raise
        SecretSinkError on failure.
        """

    def recover(self) -> None:  # noqa: B027 (optional hook)
        """Finish what a killed run left half done (e.g. fold its delivery log into the document).

        Every command that opens the sink calls this first, so no command ever works on a
        document that a killed apply left behind the deliveries it made.
        """

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Finish up after the last delivery of a run (e.g. fold a delivery log into the document)."""


def beside(base_dir: Path, path: str | Path) -> Path:
    """A path from the `secrets:` section: relative ones resolve beside keyform.yaml (`base_dir`)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else base_dir / path
