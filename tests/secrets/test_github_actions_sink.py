import io
import json
import secrets as random
from datetime import UTC, datetime

import pytest

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.model import PluginConfig
from keyform.secrets import make_sink
from keyform.secrets.github_actions_sink import GithubActionsSink, escape_data, output_name

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OUTSIDE = (
    "secrets.type github-actions works only inside a GitHub Actions step (GITHUB_ACTIONS=true and GITHUB_OUTPUT set): "
    "use type file or age to run keyform elsewhere"
)


def api_key(address="users/tom.becker@acme.example"):
    return GeneratedSecret(address, "api_key", {"api_key": "kfk_" + random.token_urlsafe(30)}, "key_1", WHEN)


def client_secret(address="credentials/payroll-sync"):
    fields = {"client_id": "kfc_abc", "client_secret": "kfs_" + random.token_urlsafe(30)}
    return GeneratedSecret(address, "client_credentials", fields, "sec_1", WHEN)


def parse_outputs(text):
    """GITHUB_OUTPUT's documented format: `name=value` lines and `name<<DELIM` ... `DELIM` blocks."""
    outputs, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@pytest.fixture
def runner(tmp_path, monkeypatch):
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    return output


def test_masks_every_secret_value_first_then_writes_multiline_outputs(runner, capsys):
    class Recorder:
        """stdout that checks the value isn't in GITHUB_OUTPUT yet when its mask is printed."""

        def __init__(self):
            self.lines = []

        def write(self, text):
            value = text.removeprefix("::add-mask::").strip()
            assert value not in runner.read_text()
            self.lines.append(text)

        def flush(self):
            pass

    stream = Recorder()
    sink = GithubActionsSink(stream=stream)
    sink.preflight()
    key, credential = api_key(), client_secret()
    sink.deliver(key)
    sink.deliver(credential)
    assert stream.lines == [
        f"::add-mask::{key.fields['api_key']}\n",
        f"::add-mask::{credential.fields['client_secret']}\n",
    ]
    text = runner.read_text()
    delimiters = [line.split("<<")[1] for line in text.splitlines() if "<<" in line]
    assert len(set(delimiters)) == 2 and all(d.startswith("ghadelimiter_") for d in delimiters)
    outputs = parse_outputs(text)
    assert outputs["earlier"] == "1"  # appended, nothing else touched
    assert json.loads(outputs["users_tom_becker_acme_example"]) == {
        "type": "api_key",
        "api_key": key.fields["api_key"],
        "secret_id": "key_1",
        "created_at": "2026-01-02T03:04:05Z",
    }
    assert json.loads(outputs["credentials_payroll-sync"])["client_secret"] == credential.fields["client_secret"]
    captured = capsys.readouterr()
    for value in (*key.values(), *credential.values()):
        assert value not in captured.out + captured.err


def test_the_mask_lines_are_the_only_stdout_that_holds_a_secret(runner, capsys):
    secret = client_secret()
    GithubActionsSink().deliver(secret)
    captured = capsys.readouterr()
    assert captured.out == f"::add-mask::{secret.fields['client_secret']}\n"
    others = [line for line in captured.out.splitlines() if not line.startswith("::add-mask::")]
    assert all(secret.fields["client_secret"] not in text for text in (*others, captured.err))


def test_refuses_outside_a_github_actions_step(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    with pytest.raises(SecretSinkError) as error:
        GithubActionsSink().preflight()
    assert str(error.value) == OUTSIDE
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))  # set by hand on a laptop: still refused
    secret = api_key()
    with pytest.raises(SecretSinkError, match="works only inside a GitHub Actions step"):
        GithubActionsSink().deliver(secret)
    assert capsys.readouterr().out == ""  # refused before printing any mask line
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path))
    with pytest.raises(SecretSinkError, match=f"GITHUB_OUTPUT file {tmp_path} is not writable \\(Is a directory\\)"):
        GithubActionsSink().preflight()


def test_output_names_are_sanitised_and_collisions_refused(runner):
    assert output_name("users/Anna.Berg+ops@acme.example") == "users_Anna_Berg_ops_acme_example"
    assert output_name("9lives") == "_9lives"
    sink = GithubActionsSink(stream=io.StringIO())
    sink.deliver(client_secret("credentials/a.b"))
    sink.deliver(client_secret("credentials/a.b"))  # the same address again (a rotation) is fine
    with pytest.raises(SecretSinkError) as error:
        sink.deliver(client_secret("credentials/a_b"))
    assert str(error.value) == (
        "credentials/a_b: its output name 'credentials_a_b' is already used by credentials/a.b in this run; "
        "rename one of them (outputs keep only [A-Za-z0-9_-])"
    )


def test_command_values_are_escaped_like_the_toolkit():
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"


def test_make_sink_builds_the_github_actions_sink(runner, tmp_path):
    sink = make_sink(PluginConfig("github-actions", {}), tmp_path)
    assert isinstance(sink, GithubActionsSink)
    assert sink.describe() == f"GitHub Actions step outputs ({runner})"
