"""The `keystone` provider: OpenStack Keystone's projects, users, roles and application credentials.

kinds.py declares the kinds (no keystoneauth1 needed: `keyform validate` works without the
extra), rules.py their risks and checks, provider.py reads and applies through cloud.py (the
canonical form) and client.py (keystoneauth1 sessions, listings, writes, one-line errors),
verify.py checks delivered credentials. Needs the optional extra: `pip install 'keyform[keystone]'`.
"""

from keyform.providers.keystone.provider import KeystoneProvider

__all__ = ["KeystoneProvider"]
