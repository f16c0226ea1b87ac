"""The plan as JSON (format_version 1, documented in the README)."""

from __future__ import annotations

import json

from keyform.plan.plan import Plan


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False)
