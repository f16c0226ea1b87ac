from pathlib import Path

import pytest

from keyform.cli.errors import user_message
from keyform.config.root import find_root
from keyform.errors import ConfigError
from tests.config.helpers import HEADER


def test_find_root_prefers_config_then_directory_then_the_current_directory(project):
    project.write_root()
    project.write("sub/keyform.yaml", HEADER)
    project.write("other.yaml", HEADER)
    assert find_root() == Path("keyform.yaml")
    assert find_root(directory=Path("sub")) == Path("sub/keyform.yaml")
    assert find_root(config=Path("other.yaml")) == Path("other.yaml")
    assert find_root(config=Path("keyform.yaml"), directory=Path("sub")) == Path("sub/keyform.yaml")


def test_find_root_errors_say_how_to_fix(project):
    (project.root / "empty").mkdir()
    with pytest.raises(ConfigError) as caught:
        find_root(directory=Path("empty"))
    assert str(caught.value) == f"no keyform.yaml in {project.root.resolve() / 'empty'} (create one)"
    assert user_message(caught.value).endswith("(create one, or pass --config FILE)")
    with pytest.raises(ConfigError, match=r"^missing.yaml: cannot read: no such file$"):
        find_root(config=Path("missing.yaml"))
    with pytest.raises(ConfigError, match=r"^empty: cannot read: it is a directory$"):
        find_root(config=Path("empty"))
