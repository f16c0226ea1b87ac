"""Property-based contract test: schemathesis drives every documented operation of the real server
(loopback, the owner's API key) and checks that no answer is a 5xx or strays from the document.

Bounded and repeatable: a few examples per operation, a fixed seed, derandomized, no example
database; the coverage and stateful phases are off (they would multiply the run time).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from keyform.server import RunningServer, running_server

from .conftest import OPENAPI_PATH, OWNER_EMAIL

SEED = 20_240_611
EXAMPLES_PER_OPERATION = 5
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # Positive data only: the owner's Authorization header is added at call time, so a negative
        # case "without Authorization" is sent with it and rightly accepted; hostile input has its
        # own tests (test_hostile_input.py). Which negative cases appear depended on test order.
        "generation": {
            "mode": "positive",
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        # Schema-valid input may still be refused on meaning (an unknown id, a forged cursor, a
        # stale If-Match): that check is about documents that can say everything, which this can't.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("schemathesis") / "keyform.db", init_owner=OWNER_EMAIL) as server:
        yield server


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(live: RunningServer, case: schemathesis.Case) -> None:
    # call_and_validate raises on any failed check (a 5xx, a response outside the document)
    response = case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {live.owner_token}"})
    assert response.status_code < 500
