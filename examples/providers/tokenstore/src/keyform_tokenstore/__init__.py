"""keyform provider for the token store: teams and scoped service tokens."""

from keyform_tokenstore.provider import TokenStoreProvider

__all__ = ["TokenStoreProvider"]
