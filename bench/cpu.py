"""CPU cost of diff + risks + rendering for 100,000 resources (in-process, no HTTP): `python bench/cpu.py`."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes import FakeProvider

from keyform.model import ApiKey, Credential, DesiredState, PluginConfig, Role, User
from keyform.plan.build import make_plan
from keyform.plan.render_json import render_json
from keyform.plan.render_markdown import render_markdown
from keyform.plan.render_text import render_text
from keyform.providers.base import LiveResource, SecretInfo

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def world(n_users: int, n_credentials: int, changed_every: int) -> tuple[DesiredState, dict[str, LiveResource]]:
    roles = {f"role-{r:02}": Role(f"role-{r:02}", "r", {"employees": ("read",)}, ("first_name",)) for r in range(50)}
    users = {
        f"u{i}@x.example": User(f"u{i}@x.example", "U", str(i), roles=(f"role-{i % 50:02}",), api_key=ApiKey())
        for i in range(n_users)
    }
    credentials = {f"c{i}": Credential(f"c{i}", "sys", roles=(f"role-{i % 50:02}",)) for i in range(n_credentials)}
    state = DesiredState(PluginConfig("fake", {}), roles=roles, users=users, credentials=credentials)
    live = {}
    for index, (address, attributes) in enumerate(state.resources()):
        if changed_every and index % changed_every == 0 and "integration" in attributes:
            attributes = {**attributes, "integration": "drifted"}
        secrets = (SecretInfo("s", NOW),) if address.startswith(("users/", "credentials/")) else ()
        live[address] = LiveResource(address, attributes, f"id-{index}", '"1"', True, secrets)
    return state, live


def main() -> None:
    for label, changed_every in (("no changes", 0), ("1% changed", 100), ("all new", -1)):
        state, live = world(50_000, 50_000, max(changed_every, 0))
        if changed_every < 0:
            live = {}
        provider = FakeProvider(live)
        started = time.process_time()
        result = make_plan(state, provider, now=NOW, live=live)
        planned = time.process_time()
        text, markdown, data = render_text(result.plan), render_markdown(result.plan), render_json(result.plan)
        rendered = time.process_time()
        print(
            f"100,000 resources, {label}: diff+risks {planned - started:.2f} s CPU, "
            f"render text+markdown+json {rendered - planned:.2f} s CPU, {len(result.plan.changes)} changes, "
            f"{len(text) + len(markdown) + len(data):,} chars"
        )


if __name__ == "__main__":
    main()
