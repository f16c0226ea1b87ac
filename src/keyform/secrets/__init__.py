"""Secret sinks and redaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keyform.errors import SecretSinkError

if TYPE_CHECKING:
    from keyform.model import PluginConfig
    from keyform.secrets.base import SecretSink


def open_sink(config: PluginConfig, base_dir: Path) -> SecretSink:
    """The sink the `secrets:` section names, with what a killed run left half done finished."""
    sink = make_sink(config, base_dir)
    sink.recover()
    return sink


def recover_sink(config: PluginConfig, base_dir: Path) -> None:
    """Finish a killed apply's writes to a sink on this machine (the file sink's pending log).

    For commands that don't otherwise open the sink (plan): the other sinks keep nothing here to
    finish, and building them would ask for credentials (a Vault token) such a command doesn't need.
    """
    if config.type == "file":
        open_sink(config, base_dir)


def make_sink(config: PluginConfig, base_dir: Path) -> SecretSink:
    """Build the sink the `secrets:` section names; relative paths resolve beside keyform.yaml."""
    options = config.options

    def _beside(base_dir: Path, path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else base_dir / path

    if config.type == "file":
        from keyform.secrets.file_sink import FileSink

        return FileSink(_beside(base_dir, options.get("path", ".keyform/secrets.json")))
    if config.type == "age":
        from keyform.secrets.age_sink import AgeSink

        recipients = options.get("recipients") or []
        if isinstance(recipients, str):
            recipients = [recipients]
        identity = options.get("identity_file")
        return AgeSink(
            _beside(base_dir, options.get("path", ".keyform/secrets.json.age")),
            [str(r) for r in recipients],
            _beside(base_dir, identity) if identity else None,
        )
    if config.type == "vault":
        from keyform.secrets.vault_sink import make_vault_sink

        return make_vault_sink(options)
    if config.type == "command":
        from keyform.secrets.command_sink import make_command_sink

        return make_command_sink(options, base_dir)
    if config.type == "github-actions":
        from keyform.secrets.github_actions_sink import GithubActionsSink

        return GithubActionsSink()
    where = f" ({config.location})" if config.location else ""
    raise SecretSinkError(
        f"secrets.type {config.type!r}{where} is unknown: use file, age, vault, command or github-actions"
    )
