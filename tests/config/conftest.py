import pytest

from tests.config.helpers import Project


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A Project in tmp_path, which is also the current directory (so paths show relative)."""
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)
