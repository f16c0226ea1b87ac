"""Write desired-state files under a temporary directory and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keyform.config import load_desired_state
from keyform.errors import ConfigError
from keyform.model import DesiredState

ENV = {"KEYFORM_URL": "http://127.0.0.1:9", "KEYFORM_TOKEN": "test-token"}

HEADER = """\
version: 1
provider:
  type: keyform
  url: ${env:KEYFORM_URL}
  token: ${env:KEYFORM_TOKEN}
"""


class Project:
    """A directory (the current directory during the test) holding desired-state files."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def write_root(self, body: str = "") -> Path:
        """keyform.yaml: the valid header (lines 1-5) followed by `body`."""
        return self.write("keyform.yaml", HEADER + textwrap.dedent(body))

    def load(self, name: str = "keyform.yaml", **options) -> DesiredState:
        options.setdefault("environ", ENV)
        return load_desired_state(self.root / name, **options)

    def errors(self, name: str = "keyform.yaml", **options) -> list[str]:
        """The problems loading reports, one string each (`FILE:LINE:COL: message`)."""
        with pytest.raises(ConfigError) as caught:
            self.load(name, **options)
        assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
        return [str(problem) for problem in caught.value.problems]
