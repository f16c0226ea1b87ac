"""Providers are plugins: classes registered under the `keyform.providers` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from keyform.errors import ProviderError
from keyform.model import PluginConfig
from keyform.providers.base import Provider

GROUP = "keyform.providers"


def available_providers() -> list[str]:
    """Provider types registered under the `keyform.providers` entry-point group."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load_provider(config: PluginConfig) -> Provider:
    """Instantiate the provider `provider.type` names, with its options."""
    where = f"{config.location}: " if config.location else ""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == config.type]
    if not matches:
        known = ", ".join(available_providers()) or "none"
        raise ProviderError(f"{where}provider.type {config.type!r} is not installed (known: {known})")
    try:
        cls = matches[0].load()
    except (ImportError, AttributeError) as error:
        raise ProviderError(f"{where}provider {config.type!r} failed to load ({error}): reinstall it") from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderError(f"{where}provider {config.type!r} ({matches[0].value}) is not a keyform Provider")
    return cls(config.options)
