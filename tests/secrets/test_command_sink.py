import json
import os
import secrets as random
import stat
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.model import PluginConfig
from keyform.secrets import make_sink
from keyform.secrets.command_sink import CommandSink

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def client_secret(address="credentials/payroll-sync"):
    fields = {"client_id": "kfc_abc", "client_secret": "kfs_" + random.token_urlsafe(30)}
    return GeneratedSecret(address, "client_credentials", fields, "sec_1", WHEN)


def script(tmp_path, body, name="store.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def assert_not_leaked(capfd, *values, texts=()):
    captured = capfd.readouterr()
    for value in values:
        for text in (captured.out, captured.err, *texts):
            assert value not in text


def test_secret_goes_to_stdin_only_and_the_address_to_the_environment(tmp_path, capfd):
    store = script(
        tmp_path,
        """
        import json, os, sys
        document = json.load(sys.stdin)
        value = document["client_secret"]
        report = {
            "document": document,
            "address": os.environ["KEYFORM_ADDRESS"],
            "in_argv": any(value in arg for arg in sys.argv),
            "in_env": any(value in v for v in os.environ.values()),
            "cwd": os.getcwd(),
        }
        with open("vault.json", "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(report, handle)
        print("stored", value)  # a chatty program: keyform discards its stdout
        """,
    )
    secret = client_secret()
    sink = CommandSink([sys.executable, str(store), "--label", "keyform"], cwd=tmp_path)
    sink.preflight()
    sink.deliver(secret)
    report = json.loads((tmp_path / "vault.json").read_text())
    assert report["document"] == {
        "address": "credentials/payroll-sync",
        "type": "client_credentials",
        "client_id": "kfc_abc",
        "client_secret": secret.fields["client_secret"],
        "secret_id": "sec_1",
        "created_at": "2026-01-02T03:04:05Z",
    }
    assert (report["address"], report["in_argv"], report["in_env"]) == ("credentials/payroll-sync", False, False)
    assert report["cwd"] == str(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "vault.json").st_mode) == 0o600
    assert_not_leaked(capfd, *secret.values())


def test_non_zero_exit_reports_code_and_output_size_never_the_output(tmp_path, capfd):
    store = script(
        tmp_path,
        """
        import json, sys
        value = json.load(sys.stdin)["client_secret"]
        print(f"stored {value[4:44]}")  # part of the secret: no redactor can recognise it
        sys.stderr.write(f"pass: cannot insert {value[5:45]}\\nstore is locked\\n")
        sys.exit(3)
        """,
    )
    secret = client_secret()
    part = secret.fields["client_secret"][5:45]
    with pytest.raises(SecretSinkError) as error:
        CommandSink([sys.executable, str(store)], cwd=tmp_path).deliver(secret)
    written = len(f"stored {secret.fields['client_secret'][4:44]}\n") + len(
        f"pass: cannot insert {part}\nstore is locked\n"
    )
    assert str(error.value) == (
        f"credentials/payroll-sync: secrets.command {sys.executable!r} exited with code 3 "
        f"({written} bytes of output, not shown: it may hold secrets; secrets.show_output: true shows it)"
    )
    assert_not_leaked(capfd, *secret.values(), secret.fields["client_secret"][4:44], part, texts=[str(error.value)])


def test_show_output_adds_the_scrubbed_stderr_with_a_warning(tmp_path, capfd):
    store = script(
        tmp_path,
        """
        import json, sys
        value = json.load(sys.stdin)["client_secret"]
        sys.stderr.write(f"pass: cannot insert {value}\\nstore is locked\\n")
        sys.exit(3)
        """,
    )
    secret = client_secret()
    with pytest.raises(SecretSinkError) as error:
        CommandSink([sys.executable, str(store)], cwd=tmp_path, show_output=True).deliver(secret)
    assert str(error.value) == (
        f"credentials/payroll-sync: secrets.command {sys.executable!r} exited with code 3; its standard error "
        "(shown by secrets.show_output, may hold parts of secrets): pass: cannot insert <redacted> | store is locked"
    )
    assert_not_leaked(capfd, *secret.values(), texts=[str(error.value)])


def test_silent_failure_and_timeout(tmp_path):
    quiet = script(tmp_path, "import sys; sys.stdin.read(); sys.exit(1)\n", "quiet.py")
    with pytest.raises(SecretSinkError, match=r"exited with code 1 \(no output\)$"):
        CommandSink([sys.executable, str(quiet)]).deliver(client_secret())
    slow = script(tmp_path, "import time; time.sleep(30)\n", "slow.py")
    with pytest.raises(SecretSinkError) as error:
        CommandSink([sys.executable, str(slow)], timeout=0.5).deliver(client_secret())
    assert str(error.value) == (
        f"credentials/payroll-sync: secrets.command {sys.executable!r} did not finish within 0.5s (it was killed): "
        "fix the command or raise secrets.timeout"
    )
    started = time.monotonic()  # a grandchild holding stderr open is killed with its process group
    with pytest.raises(SecretSinkError, match=r"'/bin/sh' did not finish within 0.5s \(it was killed\)"):
        CommandSink(["/bin/sh", "-c", "sleep 30; true"], timeout=0.5).deliver(client_secret())
    assert time.monotonic() - started < 10


def test_preflight_needs_an_executable_program(tmp_path):
    with pytest.raises(SecretSinkError) as error:
        CommandSink(["keyform-no-such-program"]).preflight()
    assert str(error.value) == (
        "secrets.command program 'keyform-no-such-program' was not found or is not executable: "
        "install it, fix the path, or chmod +x it"
    )
    plain = tmp_path / "bin" / "store.sh"
    plain.parent.mkdir()
    plain.write_text("#!/bin/sh\ncat > stored.json\n")
    with pytest.raises(SecretSinkError, match=r"program './bin/store.sh' was not found or is not executable"):
        CommandSink(["./bin/store.sh"], cwd=tmp_path).preflight()
    plain.chmod(0o700)
    sink = CommandSink(["./bin/store.sh"], cwd=tmp_path)  # relative to keyform.yaml's directory
    sink.preflight()
    secret = client_secret()
    sink.deliver(secret)
    assert json.loads((tmp_path / "stored.json").read_text())["client_secret"] == secret.fields["client_secret"]


def test_make_sink_reads_command_and_timeout(tmp_path):
    sink = make_sink(PluginConfig("command", {"command": ["pass", "insert", "-m", "x"], "timeout": 5}), tmp_path)
    assert isinstance(sink, CommandSink)
    assert (sink.argv, sink.cwd, sink.timeout, sink.describe()) == (
        ["pass", "insert", "-m", "x"],
        tmp_path,
        5.0,
        "command pass",
    )
    with pytest.raises(SecretSinkError, match=r"secrets.command must be a list \(argv, no shell\)"):
        make_sink(PluginConfig("command", {"command": "pass insert x"}), tmp_path)
    with pytest.raises(SecretSinkError, match=r"secrets\.timeout must be a positive number of seconds, not 'soon'"):
        make_sink(PluginConfig("command", {"command": ["pass"], "timeout": "soon"}), tmp_path)
    assert make_sink(PluginConfig("command", {"command": ["pass"], "show_output": True}), tmp_path).show_output
    with pytest.raises(SecretSinkError, match=r"^secrets\.show_output must be true or false, not 'yes'$"):
        make_sink(PluginConfig("command", {"command": ["pass"], "show_output": "yes"}), tmp_path)
