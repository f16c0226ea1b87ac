"""Plugins shared by every test folder: the private PostgreSQL cluster (tests/pg.py)."""

pytest_plugins = ["tests.pg"]
