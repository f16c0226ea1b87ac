"""What a caller (the command line, or a program using keyform as a library) hands the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from keyform.secrets.redaction import Redactor
from keyform.ui import UI, RecordingUI


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where the desired state is and whom to report to."""

    config: Path | None = None  # the root file (default: DIRECTORY/keyform.yaml)
    directory: Path | None = None
    environ: Mapping[str, str] | None = None  # for ${env:NAME}; None: the process environment
    redactor: Redactor = field(default_factory=Redactor)
    ui: UI = field(default_factory=RecordingUI)
