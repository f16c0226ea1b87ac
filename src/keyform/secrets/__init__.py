"""Secret sinks and redaction. Sinks are plugins (`keyform.plugins`): the built-in ones each in
its own module (`keyform.secrets.file_sink:file_sink`, ...; only the configured one is imported),
and factories other packages register under `keyform.sinks`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyform.errors import SecretSinkError
from keyform.plugins import Registry

if TYPE_CHECKING:
    from keyform.model import PluginConfig
    from keyform.secrets.base import SecretSink

SinkFactory = Callable[[Mapping[str, Any], Path], "SecretSink"]

BUILT_IN = ("file", "age", "vault", "command", "github-actions")


def _module(name: str) -> str:
    """A built-in sink's module and factory: `github-actions` -> `github_actions_sink`."""
    return f"{name.replace('-', '_')}_sink"


def _unknown(name: str, known: list[str]) -> SecretSinkError:
    names = [*BUILT_IN, *(other for other in known if other not in BUILT_IN)]
    return SecretSinkError(f"secrets.type {name!r} is unknown: use {', '.join(names[:-1])} or {names[-1]}")


SINKS = Registry(
    group="keyform.sinks",
    built_in={name: f"keyform.secrets.{_module(name)}:{_module(name)}" for name in BUILT_IN},
    unknown=_unknown,
    broken=lambda name, error: SecretSinkError(f"sink {name!r} failed to load ({error}): reinstall it"),
)


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
    try:
        factory, _ = SINKS.load(config.type)
    except SecretSinkError as error:
        where = f" ({config.location})" if config.location else ""
        raise SecretSinkError(str(error).replace(f"{config.type!r}", f"{config.type!r}{where}", 1)) from None
    if not callable(factory):
        raise SecretSinkError(f"sink {config.type!r} is not a keyform sink factory")
    sink: SecretSink = factory(config.options, base_dir)
    return sink
