"""CPU cost of diff + risks + rendering for 100,000 resources (in-process, no HTTP): `python bench/cpu.py`.

Each step runs as `keyform plan` runs it: planning inside `bulk_work` (the collector paused), the
keyform provider's rules for which changes make a new secret, each format through `engine.render`
(text as written to a pipe or file, unstyled) and the saved plan file through `engine.save_plan`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes import FakeProvider
from tests.fakes import state as desired_state

from keyform import engine
from keyform.contract import LiveResource, SecretInfo
from keyform.model import DesiredState
from keyform.plan.build import make_plan
from keyform.process import bulk_work
from keyform.providers.keyform import KeyformProvider
from keyform.providers.keyform.model import ApiKey, Credential, Role, User

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def world(n_users: int, n_credentials: int, changed_every: int) -> tuple[DesiredState, dict[str, LiveResource]]:
    roles = {f"role-{r:02}": Role(f"role-{r:02}", "r", {"employees": ("read",)}, ("first_name",)) for r in range(50)}
    users = {
        f"u{i}@x.example": User(f"u{i}@x.example", "U", str(i), roles=(f"role-{i % 50:02}",), api_key=ApiKey())
        for i in range(n_users)
    }
    credentials = {f"c{i}": Credential(f"c{i}", "sys", roles=(f"role-{i % 50:02}",)) for i in range(n_credentials)}
    state = desired_state(roles=roles, users=users, credentials=credentials)
    live = {}
    for index, (address, attributes) in enumerate(state.resources()):
        if changed_every and index % changed_every == 0 and "integration" in attributes:
            attributes = {**attributes, "integration": "drifted"}
        secrets = (SecretInfo("s", NOW),) if address.startswith(("users/", "credentials/")) else ()
        live[address] = LiveResource(address, attributes, f"id-{index}", '"1"', True, secrets)
    return state, live


class OfflineKeyformProvider(FakeProvider):
    """The keyform provider's planning rules (which changes make a new secret) without HTTP."""

    generates_secret = KeyformProvider.generates_secret


def main() -> None:
    for label, changed_every in (("no changes", 0), ("1% changed", 100), ("all new", -1)):
        state, live = world(50_000, 50_000, max(changed_every, 0))
        if changed_every < 0:
            live = {}
        provider = OfflineKeyformProvider(live)
        started = time.process_time()
        with bulk_work():
            result = make_plan(state, provider, now=NOW, live=live)
        costs = {"diff+risks": time.process_time() - started}
        sizes = 0
        for output_format in ("text", "markdown", "json"):
            started = time.process_time()
            sizes += len(engine.render(result.plan, output_format, styled=False))
            costs[output_format] = time.process_time() - started
        with tempfile.TemporaryDirectory() as directory:
            started = time.process_time()
            engine.save_plan(result.plan, Path(directory) / "plan.json")
            costs["plan file"] = time.process_time() - started
        shown = ", ".join(f"{step} {cost:.2f}" for step, cost in costs.items())
        print(f"100,000 resources, {label}: {shown} s CPU; {len(result.plan.changes)} changes, {sizes:,} chars")


if __name__ == "__main__":
    main()
