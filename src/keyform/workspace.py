"""The one factory: from global options to a loaded desired state, a provider and a sink."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from keyform.contract import Provider
from keyform.model import DesiredState
from keyform.secrets.base import SecretSink
from keyform.secrets.redaction import Redactor


@dataclass
class Workspace:
    """A loaded desired state and where it lives."""

    root: Path
    state: DesiredState

    @property
    def base_dir(self) -> Path:
        return self.root.parent

    def sink(self) -> SecretSink:
        """The configured sink, opened: a fold a killed apply left unfinished is finished first."""
        from keyform.secrets import open_sink

        return open_sink(self.state.secrets, self.base_dir)

    def recover_sink(self) -> None:
        """Finish a killed apply's unfinished writes to a sink on this machine (see `recover_sink`)."""
        from keyform.secrets import recover_sink

        recover_sink(self.state.secrets, self.base_dir)

    @contextmanager
    def provider(self) -> Iterator[Provider]:
        from keyform.providers.registry import load_provider

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
    from keyform.config import find_root, load_desired_state

    root = find_root(config, directory)
    state = load_desired_state(root, environ=environ if environ is not None else os.environ, resolve_env=resolve_env)
    return Workspace(root, state)


def register_config_secrets(state: DesiredState, redactor: Redactor) -> None:
    """Teach the redactor the secrets the config itself holds (tokens resolved from the environment)."""
    for section in (state.provider, state.secrets):
        for key, value in section.options.items():
            if isinstance(value, str) and any(word in key for word in ("token", "secret", "password", "api_key")):
                redactor.add(value)
