"""Providers are plugins: the built-in `keyform` and `aws-iam` providers, and classes other packages register
under the `keyform.providers` entry-point group.

The built-in providers are found without reading the entry points, which means scanning every
installed package's metadata (3 ms with 20 packages, 15 ms with 100), twice per plan and before
its live read can begin. A package can't register a provider under a built-in name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keyform.contract import Provider
from keyform.errors import ProviderError
from keyform.model import PluginConfig

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "keyform.providers"
BUILT_IN = {  # imported when named: aws-iam, keystone and postgresql import their client library only to connect
    "keyform": "keyform.providers.keyform:KeyformProvider",
    "aws-iam": "keyform.providers.aws_iam.provider:AwsIamProvider",
    "keystone": "keyform.providers.keystone:KeystoneProvider",
    "personio": "keyform.providers.personio:PersonioProvider",
    "predictive-index": "keyform.providers.predictive_index:PredictiveIndexProvider",
    "postgresql": "keyform.providers.postgresql:PostgresqlProvider",
}


def available_providers() -> list[str]:
    """Provider types: the built-in ones and those registered under the `keyform.providers` group."""
    return sorted(BUILT_IN.keys() | {entry.name for entry in _registered()})


def is_installed(kind: str) -> bool:
    """Whether `provider.type: kind` names an available provider."""
    return kind in BUILT_IN or any(entry.name == kind for entry in _registered())


def load_provider(config: PluginConfig) -> Provider:
    """Instantiate the provider `provider.type` names, with its options."""
    return provider_class(config.type, config.location)(config.options)


def provider_class(type_name: str, location: object = None) -> type[Provider]:
    """The class `provider.type: type_name` names (its kinds are known without connecting)."""
    where = f"{location}: " if location else ""
    config = PluginConfig(type_name)
    if config.type in BUILT_IN:
        module, _, name = BUILT_IN[config.type].partition(":")
        cls, value = getattr(importlib.import_module(module), name), BUILT_IN[config.type]
    else:
        matches = [entry for entry in _registered() if entry.name == config.type]
        if not matches:
            known = ", ".join(available_providers())
            raise ProviderError(f"{where}provider.type {config.type!r} is not installed (known: {known})")
        try:
            cls, value = matches[0].load(), matches[0].value
        except (ImportError, AttributeError) as error:
            raise ProviderError(f"{where}provider {config.type!r} failed to load ({error}): reinstall it") from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderError(f"{where}provider {config.type!r} ({value}) is not a keyform Provider")
    return cls


def _registered() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return [entry for entry in entry_points(group=GROUP) if entry.name not in BUILT_IN]
