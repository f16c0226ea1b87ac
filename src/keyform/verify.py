"""`keyform verify`: prove each secret in the sink authenticates and grants what the desired state declares.

Only sinks keyform can read back are verified: `file`, and `age` with `identity_file`; any other
sink is a SecretSinkError naming its type. Every secret read is added to the run's redactor before
the first request. The configured provider checks each entry (`Provider.verifier`); an address no
longer declared is a finding, unless its entry is retired (apply deleted the resource and dropped
the secret): retired entries are reported, not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from keyform.contract import Finding
from keyform.errors import KeyformError, ProviderError, SecretSinkError
from keyform.model import DesiredState
from keyform.secrets.base import SecretSink
from keyform.secrets.entries import secret_values as entry_secrets
from keyform.secrets.redaction import Redactor

__all__ = ["Finding", "VerifyReport", "read_sink", "secret_values", "verify"]


@runtime_checkable
class ReadableSink(Protocol):
    def read(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class VerifyReport:
    findings: tuple[Finding, ...]
    sink: str

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def summary(self) -> str:
        if not self.findings:
            return f"No secrets to verify in {self.sink}."
        retired = sum(1 for f in self.findings if f.retired)
        failed = sum(1 for f in self.findings if not f.ok)
        checked = len(self.findings) - retired
        summary = f"Verified {checked} secret(s) from {self.sink}: {checked - failed} ok, {failed} failed"
        return summary + (f"; {retired} retired (deleted, not checked)." if retired else ".")


def read_sink(sink: SecretSink, sink_type: str) -> dict[str, Any]:
    """The sink's document by address; SecretSinkError for sinks keyform can't read back."""
    if not isinstance(sink, ReadableSink):
        raise SecretSinkError(
            f"secrets.type {sink_type} can't be read back, so keyform verify skipped it: "
            "verify works with the file sink and the age sink with identity_file"
        )
    return sink.read()


def secret_values(document: Mapping[str, Any]) -> list[str]:
    """Every secret value in a sink document, retiring and pending ones included (for the redactor): every
    string field but the entry's facts and its provider's public fields."""
    return [value for entry in document.values() if isinstance(entry, Mapping) for value in entry_secrets(entry)]


def verify(
    state: DesiredState,
    document: Mapping[str, Any],
    redactor: Redactor,
    *,
    session: Any = None,
    addresses: Collection[str] = (),
    sink: str = "the sink",
) -> VerifyReport:
    """Check every entry of `document` (or only `addresses`) through the configured provider."""
    redactor.add(*secret_values(document))
    from keyform.providers.registry import provider_class

    kind = state.provider.type
    try:
        provider = provider_class(kind)
    except KeyformError:
        provider = None
    verifier = provider.verifier(state.provider.options, session) if provider is not None else None
    if verifier is None:
        raise ProviderError(f"keyform verify needs a provider that can verify secrets (provider.type {kind!r} can't)")
    findings = []
    try:
        for address in sorted(addresses or document):
            entry = document.get(address)
            if entry is None:
                findings.append(Finding(address, False, f"no secret for it in {sink}"))
                continue
            if isinstance(entry, Mapping) and entry.get("retired_at"):
                message = f"retired {entry['retired_at']}: apply deleted it, and its secret with it"
                findings.append(Finding(address, True, message, retired=True))
                continue
            if isinstance(entry, Mapping) and entry.get("pending"):
                message = (
                    "an apply stopped while setting its new secret, so which one is live is unknown: run "
                    f"`keyform apply` (or `keyform rotate {address}`) to settle it"
                )
                findings.append(Finding(address, False, message))
                continue
            findings.append(verifier.check(address, entry, state, redactor))
    finally:
        verifier.close()
    return VerifyReport(tuple(findings), sink)
