"""A loaded desired state and where it lives: the one factory for its provider and its sink."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keyform.config import find_root, load_desired_state
from keyform.contract import Provider
from keyform.model import DesiredState
from keyform.providers.registry import load_provider
from keyform.secrets import open_sink, recover_sink
from keyform.secrets.base import SecretSink
from keyform.secrets.redaction import Redactor


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """A loaded desired state and where it lives."""

    root: Path
    state: DesiredState

    @property
    def base_dir(self) -> Path:
        return self.root.parent

    def sink(self) -> SecretSink:
        """The configured sink, opened: a fold a killed apply left unfinished is finished first."""
        return open_sink(self.state.secrets, self.base_dir)

    def recover_sink(self) -> None:
        """Finish a killed apply's unfinished writes to a sink on this machine (see `recover_sink`)."""

        recover_sink(self.state.secrets, self.base_dir)

    @contextmanager
    def provider(self) -> Iterator[Provider]:
        """The configured provider, open while the block runs."""
        provider = load_provider(self.state.provider)
        provider.use_directory(self.base_dir)
        try:
            yield provider
        finally:
            provider.close()


def open_workspace(
    config: Path | None, directory: Path | None, *, environ: Mapping[str, str] | None = None, resolve_env: bool = True
) -> Workspace:
    """Find keyform.yaml, load and validate it (raises ConfigError with every problem)."""

    root = find_root(config, directory)
    state = load_desired_state(root, environ=environ if environ is not None else os.environ, resolve_env=resolve_env)
    return Workspace(root=root, state=state)


def register_config_secrets(state: DesiredState, redactor: Redactor) -> None:
    """Teach the redactor the secrets the config itself holds (tokens resolved from the environment)."""
    for section in (state.provider, state.secrets):
        for key, value in section.options.items():
            if isinstance(value, str) and any(word in key for word in ("token", "secret", "password", "api_key")):
                redactor.add(value)
