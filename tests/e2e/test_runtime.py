"""The client at run time against the real server: tokens and URLs as users set them, broken and
vanishing servers, saved plans bound to their project, logging, the journal after failures, locks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from keyform.cli import main
from keyform.errors import ProviderError
from keyform.providers.http import ApiClient
from tests.e2e.conftest import EXAMPLES, OWNER
from tests.e2e.faultproxy import FaultProxy


def run(workdir, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["-C", str(workdir), *args], catch_exceptions=False, prog_name="keyform")
    return result.exit_code, result.stdout, result.stderr


def test_a_token_with_a_trailing_newline_works_and_one_with_inner_whitespace_is_refused_unshown(org, monkeypatch):
    monkeypatch.setenv("KEYFORM_TOKEN", org.token + "\n")  # KEYFORM_TOKEN="$(cat owner.key)<newline>"
    assert org.keyform("plan").exit_code == 0
    monkeypatch.setenv("KEYFORM_TOKEN", org.token[:10] + "\n" + org.token[10:])
    refused = org.keyform("plan")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: provider.token contains a space, line break, control or non-ASCII")
    assert len(refused.stderr.splitlines()) == 1
    assert org.token[10:] not in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:8750",
        "localhost",
        "ftp://127.0.0.1:8750",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:80a",
        "http://127.0.0.1:8750/\nx",
        "http://",
    ],
)
def test_a_bad_url_is_one_line_naming_provider_url_and_its_form(org, monkeypatch, url):
    monkeypatch.setenv("KEYFORM_URL", url)
    code, stdout, stderr = run(org.workdir, "plan")
    assert code == 1 and stdout == ""
    # validate's check (with the position in keyform.yaml) now runs before the client's own
    assert stderr.startswith("Error: ") and "provider.url: expected an http(s) URL like https://" in stderr
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr


@pytest.mark.parametrize("url", ["keys.internal:9443", "ftp://keys.internal", "http://keys.internal:99999", "https://"])
def test_the_client_refuses_a_bad_url_in_one_line_without_showing_it(url):
    with pytest.raises(ProviderError) as refused:
        ApiClient(url, "kfk_token")
    assert str(refused.value).startswith("provider.url is not an http(s) URL: ")
    assert "e.g. https://" in str(refused.value) and (url == "https://" or url not in str(refused.value))


def test_usage_errors_exit_1_not_the_drift_code(org):
    code, stdout, stderr = run(org.workdir, "plan", "--detailed-exitcode", "--bad-flag")
    assert code == 1 and stdout == ""
    assert stderr == "Error: No such option '--bad-flag'. (see `keyform plan --help`)\n"
    code, _, stderr = run(org.workdir, "--bad-global", "plan")
    assert code == 1 and stderr.startswith("Error: No such option '--bad-global'")


def test_https_against_the_plain_http_server_fails_at_once_saying_it_does_not_speak_tls(org, monkeypatch):
    monkeypatch.setenv("KEYFORM_URL", org.url.replace("http://", "https://"))
    code, _, stderr = run(org.workdir, "plan")
    assert code == 1 and len(stderr.splitlines()) == 1
    assert "doesn't speak TLS" in stderr and "use http:// in provider.url" in stderr


def test_a_server_that_is_down_from_the_start_is_one_line_without_retry_warnings(tmp_path, monkeypatch):
    import socket

    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("KEYFORM_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("KEYFORM_TOKEN", "kfk_" + "x" * 40)
    code, _, stderr = run(workdir, "plan")
    assert code == 1
    assert stderr == (
        f"Error: organization: can't reach http://127.0.0.1:{port} (Failed to establish a new connection: "
        "[Errno 111] Connection refused): is the credential API up?\n"
    )
    verbose = CliRunner().invoke(main, ["-v", "-C", str(workdir), "plan"], catch_exceptions=False)
    assert "keyform: WARNING: Retrying" in verbose.stderr  # the retries are there to see with -v


@pytest.fixture
def proxied(tmp_path, monkeypatch):
    """The example org against the real server behind a FaultProxy whose schedule a test sets."""
    from keyform.server import running_server

    workdir = tmp_path / "org"
    shutil.copytree(EXAMPLES, workdir)
    schedule = {"decide": lambda method, path: None}
    with (
        running_server(tmp_path / "db.sqlite", init_owner=OWNER) as server,
        FaultProxy(server.url, lambda method, path: schedule["decide"](method, path)) as proxy,
    ):
        monkeypatch.setenv("KEYFORM_URL", proxy.url)
        monkeypatch.setenv("KEYFORM_TOKEN", server.owner_token)
        yield workdir, schedule, proxy, server


def test_a_truncated_answer_fails_that_change_in_the_report_and_apply_goes_on(proxied):
    workdir, schedule, proxy, _ = proxied
    schedule["decide"] = lambda method, path: "truncate" if method == "POST" and path == "/v1/roles" else None
    code, stdout, stderr = run(workdir, "apply", "--auto-approve")
    assert proxy.injected["truncate"] > 0
    assert code == 1 and "Traceback" not in stdout + stderr
    assert "failed: roles/" in stdout and "was cut off" in stdout
    assert "failed: credentials/" not in stdout  # the rest went on
    assert "Fix the failures and run `keyform apply` again" in stdout


def test_when_the_server_dies_mid_apply_the_rest_is_skipped_in_one_line_saying_it_is_unreachable(proxied):
    workdir, schedule, proxy, _ = proxied
    writes = []

    def decide(method, path):
        if method in ("POST", "PATCH") and "/locks" not in path:
            writes.append(path)
            return "die" if len(writes) == 3 else None
        return None

    schedule["decide"] = decide
    code, stdout, stderr = run(workdir, "apply", "--auto-approve")
    assert code == 1 and "Traceback" not in stdout + stderr
    skipped = [line for line in stdout.splitlines() if line.strip().startswith("skipped:")]
    assert len(skipped) == 1 and "is unreachable" in skipped[0], stdout
    assert f"the credential API at {proxy.url} is unreachable. Start it (or fix provider.url)" in stdout
    assert stdout.count("can't reach") <= 4  # the changes in flight when it died, no more


def test_a_saved_plan_applies_once_only_to_its_own_desired_state_and_sink(org, tmp_path):
    planfile = tmp_path / "plan.json"
    assert org.keyform("plan", "--out", str(planfile)).exit_code == 0
    other = tmp_path / "other"
    shutil.copytree(EXAMPLES, other)
    (other / "access" / "roles.yaml").write_text((other / "access" / "roles.yaml").read_text() + "\n")
    users = other / "keyform.yaml"
    users.write_text(users.read_text().replace("job_title: Managing Director", "job_title: CEO"))
    code, _, stderr = run(other, "apply", str(planfile))
    assert code == 1 and "was planned for another desired state than" in stderr
    assert not (other / ".keyform").exists()  # nothing touched there
    same = tmp_path / "same-state-other-sink"
    shutil.copytree(EXAMPLES, same)
    config = same / "keyform.yaml"
    config.write_text(config.read_text().replace("path: .keyform/secrets.json", "path: elsewhere.json"))
    code, _, stderr = run(same, "apply", str(planfile))
    assert code == 1 and "was planned for another secrets sink than" in stderr

    first = org.keyform("apply", str(planfile))
    assert first.exit_code == 0, first.output
    again = org.keyform("apply", str(planfile))
    assert again.exit_code == 1
    assert again.stderr.startswith(f"Error: {planfile} was already applied (")
    assert "applied" not in again.stdout
    org.assert_no_secret_leaked(planfile)


def test_a_plan_file_saved_before_bindings_still_applies_with_a_note(org, tmp_path):
    planfile = tmp_path / "plan.json"
    assert org.keyform("plan", "--out", str(planfile)).exit_code == 0
    document = json.loads(planfile.read_text())
    del document["meta"]["binding"]
    planfile.write_text(json.dumps(document))
    applied = org.keyform("apply", str(planfile))
    assert applied.exit_code == 0, applied.output
    assert "was saved by an older keyform: only its provider.url is checked" in applied.stderr


def test_verbose_logs_each_request_as_text_or_json_without_headers_or_bodies(org):
    plain = org.keyform("-v", "plan")
    assert plain.exit_code == 0
    assert "keyform: INFO: GET /v1/roles?limit=1000 -> 200 (" in plain.stderr
    applied = org.keyform("--log-format", "json", "-v", "apply", "--auto-approve")
    assert applied.exit_code == 0
    records = [json.loads(line) for line in applied.stderr.splitlines() if line.startswith("{")]
    messages = [record["message"] for record in records if record["logger"] == "keyform.http"]
    assert any(m.startswith("POST /v1/credentials -> 201 (") for m in messages), messages
    assert all(record["level"] == "info" for record in records)
    for text in (plain.stderr, applied.stderr):
        assert org.token not in text and "Bearer" not in text and "client_secret" not in text
    org.assert_no_secret_leaked()
    quiet = org.keyform("plan")
    assert quiet.stderr == ""


def test_a_failed_change_is_not_reported_in_flight_next_time_nor_is_a_bad_plan_file(proxied, tmp_path):
    workdir, schedule, proxy, _ = proxied
    schedule["decide"] = lambda method, path: "status-409" if method == "PATCH" and "/users/" in path else None
    code, stdout, _ = run(workdir, "apply", "--auto-approve")
    assert code == 1 and "failed: users/owner@acme.example" in stdout and proxy.injected["status-409"] > 0
    schedule["decide"] = lambda method, path: None
    journal = (workdir / ".keyform" / "journal.jsonl").read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, stdout, stderr = run(workdir, "apply", str(bad))
    assert code == 1 and stderr.startswith(f"Error: plan file {bad} can't be read as JSON")
    assert "in flight" not in stderr and len(stderr.splitlines()) == 1
    assert (workdir / ".keyform" / "journal.jsonl").read_bytes() == journal
    code, stdout, stderr = run(workdir, "apply", "--auto-approve")
    assert code == 0, stdout + stderr
    assert "in flight" not in stderr


def test_locks_lists_the_held_lock_and_force_unlock_of_an_unknown_id_names_it(org):
    client = org.api()
    try:
        lock = client.request_json(
            "POST", "/v1/locks", what="lock", json={"owner": "ci@runner pid 7", "ttl_seconds": 60}
        )
    finally:
        client.close()
    listed = org.keyform("locks")
    assert listed.exit_code == 0
    assert listed.stdout.startswith(f"{lock['id']}  held by ci@runner pid 7 since {lock['created_at']} (expires ")
    refused = org.keyform("apply", "--auto-approve")
    assert refused.exit_code == 1 and f"keyform force-unlock {lock['id']}" in refused.stderr
    unknown = org.keyform("force-unlock", "lck_nope")
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "Error: no apply lock lck_nope is held (it was released or expired): `keyform locks` lists the held locks\n"
    )
    assert org.keyform("force-unlock", lock["id"]).exit_code == 0
    assert org.keyform("locks").stdout == "No apply lock is held.\n"


def test_demo_in_a_used_workdir_does_not_mention_an_option_the_user_never_passed(tmp_path):
    from keyform.server.runner import init_organization

    init_organization(tmp_path / "credentials.db", OWNER)
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "--init-owner" not in result.output
    assert "already has an organisation: the demo needs a fresh --workdir" in result.stderr


def test_an_unexpected_error_is_one_redacted_line_saying_where_to_report_it(tmp_path):
    secret = "kfk_" + "s" * 40
    script = (
        "from keyform.process import run_command\n"
        "def main():\n"
        f"    raise RuntimeError('header value Bearer {secret}\\n')\n"
        "run_command(main)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "KEYFORM_DEBUG"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert secret not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "This is a bug: please report it to the keyform maintainers" in result.stderr
    debug = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**env, "KEYFORM_DEBUG": "1"}, check=False
    )
    assert "Traceback" in debug.stderr and secret not in debug.stderr
