"""The keyform provider moved to `keyform.providers.keyform`; this path stays importable for
entry points and code that name `keyform.providers.keyform_api:KeyformProvider`."""

from keyform.providers.keyform.provider import KeyformProvider

__all__ = ["KeyformProvider"]
