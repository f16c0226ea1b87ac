"""Projects for the manual providers (Personio, Predictive Index): keyform.yaml, the record, the sink."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from keyform.cli import main


def project(
    tmp_path: Path,
    yaml: str,
    *,
    record: dict[str, Any] | None = None,
    provider: str = "personio",
    sink: dict[str, Any] | None = None,
) -> Path:
    """A project directory with keyform.yaml, optionally keyform's record and a file sink document."""
    (tmp_path / "keyform.yaml").write_text(textwrap.dedent(yaml), encoding="utf-8")
    if record is not None:
        path = tmp_path / "keyform-state" / f"{provider}.json"
        path.parent.mkdir(exist_ok=True)
        document = {"version": 1, "provider": provider, "resources": record}
        path.write_text(json.dumps(document), encoding="utf-8")
    if sink is not None:
        directory = tmp_path / ".keyform"
        directory.mkdir(mode=0o700, exist_ok=True)
        (directory / "secrets.json").write_text(json.dumps(sink), encoding="utf-8")
        (directory / "secrets.json").chmod(0o600)
    return tmp_path


def run(directory: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-C", str(directory), *args], catch_exceptions=False)
