"""The `keystone` provider: OpenStack Keystone's projects, users, roles and application credentials.

client.py talks to Keystone (keystoneauth1 sessions, listings, writes, one-line errors);
cloud.py maps its resources to keyform's canonical attribute form and back. The provider class
that plugs these into the engine follows the provider contract (docs/providers/keystone.md).
Needs the optional extra: `pip install 'keyform[keystone]'`.
"""
