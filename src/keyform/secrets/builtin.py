"""The built-in sinks as factories: `secrets:` options and the project folder -> a sink.

Imported when a sink is first built (`keyform.secrets.SINKS`), so a command that never opens
one doesn't load them.

Every sink, built in or registered under the `keyform.sinks` entry-point group, is such a
factory (`SinkFactory`); relative paths resolve beside keyform.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keyform.secrets.age_sink import AgeSink
from keyform.secrets.base import SecretSink
from keyform.secrets.command_sink import make_command_sink
from keyform.secrets.file_sink import FileSink
from keyform.secrets.github_actions_sink import GithubActionsSink
from keyform.secrets.vault_sink import make_vault_sink


def beside(base_dir: Path, path: str | Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else base_dir / path


def file_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    return FileSink(beside(base_dir, options.get("path", ".keyform/secrets.json")))


def age_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    recipients = options.get("recipients") or []
    if isinstance(recipients, str):
        recipients = [recipients]
    identity = options.get("identity_file")
    return AgeSink(
        beside(base_dir, options.get("path", ".keyform/secrets.json.age")),
        [str(r) for r in recipients],
        beside(base_dir, identity) if identity else None,
    )


def vault_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    return make_vault_sink(options)


def command_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    return make_command_sink(options, base_dir)


def github_actions_sink(options: Mapping[str, Any], base_dir: Path) -> SecretSink:
    return GithubActionsSink()
