"""`keyform demo` runs end to end with no setup and prints no secret."""

import json
import re

from click.testing import CliRunner

from keyform.cli import main


def test_demo_plans_applies_shows_drift_and_converges(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "1. Started keyform server at http://127.0.0.1:" in output
    assert "Apply complete: 13 applied, 0 failed, 0 stale, 0 skipped." in output
    assert "~ credentials/bi-reporting  (update)" in output  # the drift it made out of band
    assert output.rstrip().endswith("8. Plan after apply: no changes.")
    secrets = json.loads((tmp_path / "org" / ".keyform" / "secrets.json").read_text())
    values = [v for entry in secrets.values() for k, v in entry.items() if k in ("api_key", "client_secret")]
    assert len(values) == 7 and not any(value in output for value in values)
    assert not re.search(r"kf[ks]_[A-Za-z0-9_-]{20,}", output)
