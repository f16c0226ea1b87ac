"""A real Keystone, started once per test session (tests/keystone_server.py)."""

from tests.keystone_server import keystone, keystone_session

__all__ = ["keystone", "keystone_session"]
