"""Provider plugins: the built-in provider, and others registered as entry points."""

from importlib import metadata

import pytest

from keyform.errors import ProviderError
from keyform.model import PluginConfig
from keyform.providers.keyform import KeyformProvider
from keyform.providers.registry import GROUP, available_providers, is_installed, load_provider
from tests.fakes import FakeProvider


class AcmeProvider(FakeProvider):
    def __init__(self, options):
        super().__init__()
        self.options = options


NOT_A_PROVIDER = object()


@pytest.fixture
def registered(monkeypatch):
    entries = [
        metadata.EntryPoint("acme", "tests.providers.test_registry:AcmeProvider", GROUP),
        metadata.EntryPoint("keyform", "tests.providers.test_registry:AcmeProvider", GROUP),
        metadata.EntryPoint("broken", "tests.providers.test_registry:NOT_A_PROVIDER", GROUP),
    ]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [entry for entry in entries if entry.group == group])


def test_a_registered_provider_loads_with_its_options(registered):
    assert available_providers() == ["acme", "broken", "keyform", "keystone"]
    assert is_installed("acme") and not is_installed("acne")
    provider = load_provider(PluginConfig("acme", {"region": "eu"}))
    assert isinstance(provider, AcmeProvider) and provider.options == {"region": "eu"}


def test_a_package_cannot_take_the_built_in_providers_name(registered):
    provider = load_provider(PluginConfig("keyform", {"url": "http://127.0.0.1:9", "token": "t"}))
    try:
        assert type(provider) is KeyformProvider
    finally:
        provider.close()


def test_unknown_and_unfit_providers_are_one_line_errors(registered):
    with pytest.raises(
        ProviderError, match=r"^provider.type 'acne' is not installed \(known: acme, broken, keyform, keystone\)$"
    ):
        load_provider(PluginConfig("acne", {}))
    with pytest.raises(
        ProviderError, match=r"^provider 'broken' \(tests.providers.test_registry:NOT_A_PROVIDER\) is not"
    ):
        load_provider(PluginConfig("broken", {}))


def test_the_built_in_provider_is_found_without_scanning_installed_packages(monkeypatch):
    def scan(group):
        raise AssertionError(f"scanned the {group} entry points")

    monkeypatch.setattr(metadata, "entry_points", scan)
    assert is_installed("keyform")
    load_provider(PluginConfig("keyform", {"url": "http://127.0.0.1:9", "token": "t"})).close()
