"""keyform.testing: the conformance kit a provider package runs against its own live server.

A provider package subclasses `Harness` (how to configure its provider and change its live
system out of band) and `ConformanceSuite` (the tests), and gives the suite a `harness` fixture:

    from keyform.testing import ConformanceSuite

    class TestConformance(ConformanceSuite):
        @pytest.fixture
        def harness(self, tmp_path):
            with running_server() as server:
                yield MyHarness(server)

docs/providers.md ("Testing your provider") explains each check.
"""

import pytest

pytest.register_assert_rewrite("keyform.testing.project", "keyform.testing.suite")

from keyform.testing.harness import Harness, Sample  # noqa: E402 (after the assert rewrite)
from keyform.testing.project import Project  # noqa: E402
from keyform.testing.suite import ConformanceSuite  # noqa: E402

__all__ = ["ConformanceSuite", "Harness", "Project", "Sample"]
