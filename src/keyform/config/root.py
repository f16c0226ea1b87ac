"""Where the root desired-state file is (kept apart from the loader: a plan finds it before loading)."""

from __future__ import annotations

from pathlib import Path

from keyform.config.document import display_path
from keyform.errors import ConfigError, Problem, RootNotFoundError

ROOT_NAME = "keyform.yaml"


def find_root(config: Path | None = None, directory: Path | None = None) -> Path:
    """The root desired-state file: `--config FILE` (relative to `-C DIR` when given), else
    `DIR/keyform.yaml`, else `./keyform.yaml`."""
    if config is not None:
        path = directory / config if directory is not None else config
        if not path.is_file():
            reason = "it is a directory" if path.is_dir() else "no such file"
            raise ConfigError([Problem(None, f"{display_path(path)}: cannot read: {reason}")])
        return path
    base = directory if directory is not None else Path(".")
    path = base / ROOT_NAME
    if not path.is_file():
        message = f"no {ROOT_NAME} in {base.resolve()} (create one)"
        raise RootNotFoundError(message, directory=base.resolve(), file_name=ROOT_NAME)
    return path
