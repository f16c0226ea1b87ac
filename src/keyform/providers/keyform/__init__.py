"""The `keyform` provider: drives `keyform server` (the credential API in docs/credential-api.md).

kinds.py declares its kinds, rules.py its risks and invariants, provider.py reads and applies.
"""

from keyform.providers.keyform.provider import KeyformProvider

__all__ = ["KeyformProvider"]
