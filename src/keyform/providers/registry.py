"""Providers are plugins (`keyform.plugins`): the built-in ones, and classes other packages
register under the `keyform.providers` entry-point group."""

from __future__ import annotations

from keyform.contract import Provider
from keyform.errors import ProviderError
from keyform.model import PluginConfig
from keyform.plugins import Registry

GROUP = "keyform.providers"
BUILT_IN = {  # imported when named: aws-iam, keystone and postgresql import their client library only to connect
    "keyform": "keyform.providers.keyform:KeyformProvider",
    "aws-iam": "keyform.providers.aws_iam.provider:AwsIamProvider",
    "keystone": "keyform.providers.keystone:KeystoneProvider",
    "personio": "keyform.providers.personio:PersonioProvider",
    "predictive-index": "keyform.providers.predictive_index:PredictiveIndexProvider",
    "postgresql": "keyform.providers.postgresql:PostgresqlProvider",
}

PROVIDERS = Registry(
    group=GROUP,
    built_in=BUILT_IN,
    unknown=lambda name, known: ProviderError(f"provider.type {name!r} is not installed (known: {', '.join(known)})"),
    broken=lambda name, error: ProviderError(f"provider {name!r} failed to load ({error}): reinstall it"),
)


def available_providers() -> list[str]:
    """Provider types: the built-in ones and those registered under the `keyform.providers` group."""
    return PROVIDERS.names()


def is_installed(kind: str) -> bool:
    """Whether `provider.type: kind` names an available provider."""
    return PROVIDERS.provides(kind)


def load_provider(config: PluginConfig) -> Provider:
    """Instantiate the provider `provider.type` names, with its options."""
    return provider_class(config.type, config.location)(config.options)


def provider_class(type_name: str, location: object = None) -> type[Provider]:
    """The class `provider.type: type_name` names (its kinds are known without connecting)."""
    where = f"{location}: " if location else ""
    try:
        cls, value = PROVIDERS.load(type_name)
    except ProviderError as error:
        raise ProviderError(f"{where}{error}") from None
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderError(f"{where}provider {type_name!r} ({value}) is not a keyform Provider")
    return cls
