"""A plan overlaps loading the desired state with reading the live state (engine.session with prefetch)."""

import threading

from keyform import engine
from keyform.model import DesiredState
from tests.fakes import FakeProvider

CONFIG = """\
version: 1
provider:
  type: keyform
  url: http://127.0.0.1:9
  token: ${env:KEYFORM_TEST_TOKEN}
users:
  A@X.example:
    first_name: A
    last_name: X
"""


def test_the_desired_side_of_the_diff_is_built_while_the_live_read_is_under_way(tmp_path, monkeypatch):
    built = threading.Event()
    build_resources = DesiredState._build_resources

    def recording(self):
        built.set()
        yield from build_resources(self)

    monkeypatch.setattr(DesiredState, "_build_resources", recording)
    waited: list[bool] = []

    class SlowRead(FakeProvider):
        def read(self):
            waited.append(built.wait(timeout=10))  # the read ends only once the desired side exists
            return super().read()

    monkeypatch.setenv("KEYFORM_TEST_TOKEN", "kfk_not_used")
    monkeypatch.setattr(engine, "load_provider", lambda settings: SlowRead())
    (tmp_path / "keyform.yaml").write_text(CONFIG)

    with engine.session(engine.Settings(directory=tmp_path), prefetch=True) as run:
        result = run.plan()

    assert waited == [True]
    assert [(c.action.value, c.address) for c in result.plan.changes] == [("create", "users/a@x.example")]
