import json
import os
import secrets as random
import shutil
import stat
import subprocess
from datetime import UTC, datetime

import pyrage
import pytest
from pyrage import ssh, x25519

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.model import PluginConfig
from keyform.secrets import make_sink
from keyform.secrets.age_sink import AgeSink

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def client_secret(address, secret_id="s1", retiring=None):
    value = "kfs_" + random.token_urlsafe(30)
    return GeneratedSecret(
        address, "client_credentials", {"client_id": "kfc_1", "client_secret": value}, secret_id, WHEN, retiring
    )


def api_key(address):
    return GeneratedSecret(address, "api_key", {"api_key": "kfk_" + random.token_urlsafe(30)}, "key_1", WHEN)


def identity_file(tmp_path, identity, name="identity.txt"):
    path = tmp_path / name
    path.write_text(f"# created: test\n# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return path


def assert_not_leaked(capsys, *values, texts=()):
    captured = capsys.readouterr()
    for value in values:
        for text in (captured.out, captured.err, *texts):
            assert value not in text


def test_encrypts_the_file_sink_document_to_every_recipient_with_mode_0600(tmp_path, capsys):
    first, second = x25519.Identity.generate(), x25519.Identity.generate()
    sink = AgeSink(tmp_path / "out" / "secrets.json.age", [str(first.to_public()), str(second.to_public())])
    sink.preflight()
    a, b = client_secret("credentials/a"), api_key("users/tom@acme.example")
    sink.deliver(a)
    sink.deliver(b)  # no identity: this run's entries are kept in memory and re-encrypted together
    assert stat.S_IMODE(os.stat(sink.path).st_mode) == 0o600
    ciphertext = sink.path.read_bytes()
    assert ciphertext.startswith(b"age-encryption.org/v1\n")
    assert b"kfs_" not in ciphertext and b"kfk_" not in ciphertext
    for identity in (first, second):
        document = json.loads(pyrage.decrypt(ciphertext, [identity]))
        assert document["credentials/a"] == {
            "type": "client_credentials",
            "client_id": "kfc_1",
            "client_secret": a.fields["client_secret"],
            "secret_id": "s1",
            "created_at": "2026-01-02T03:04:05Z",
        }
        assert document["users/tom@acme.example"]["api_key"] == b.fields["api_key"]
    assert [p.name for p in sink.path.parent.iterdir()] == ["secrets.json.age"]  # no temp files left
    assert_not_leaked(capsys, *a.values(), *b.values())


@pytest.mark.skipif(shutil.which("age") is None, reason="the age binary is not installed")
def test_the_age_binary_decrypts_what_the_sink_wrote(tmp_path):
    identity = x25519.Identity.generate()
    sink = AgeSink(tmp_path / "secrets.json.age", [str(identity.to_public())])
    secret = client_secret("credentials/a")
    sink.deliver(secret)
    keyfile = identity_file(tmp_path, identity)
    result = subprocess.run(["age", "-d", "-i", str(keyfile), str(sink.path)], capture_output=True, check=True)
    assert json.loads(result.stdout)["credentials/a"]["client_secret"] == secret.fields["client_secret"]


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_ssh_ed25519_recipient_and_openssh_identity_file(tmp_path, capsys):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text().strip()
    sink = AgeSink(tmp_path / "secrets.json.age", [public], identity_file=key)
    sink.preflight()
    secret = api_key("users/a@acme.example")
    sink.deliver(secret)
    assert sink.read()["users/a@acme.example"]["api_key"] == secret.fields["api_key"]
    assert json.loads(pyrage.decrypt(sink.path.read_bytes(), [ssh.Identity.from_buffer(key.read_bytes())]))
    assert_not_leaked(capsys, *secret.values())


def test_with_identity_file_merges_across_runs_and_keeps_the_retiring_secret(tmp_path, capsys):
    identity = x25519.Identity.generate()
    keyfile = identity_file(tmp_path, identity)
    path = tmp_path / "secrets.json.age"
    first_run = AgeSink(path, [str(identity.to_public())], identity_file=keyfile)
    first_run.preflight()
    old, other = client_secret("credentials/a"), client_secret("credentials/b", "s2")
    first_run.deliver(old)
    first_run.deliver(other)
    second_run = AgeSink(path, [str(identity.to_public())], identity_file=keyfile)
    second_run.preflight()  # decrypts the existing file
    new = client_secret("credentials/a", "s3", retiring="s1")
    second_run.deliver(new)
    document = second_run.read()
    assert document["credentials/b"]["client_secret"] == other.fields["client_secret"]
    assert document["credentials/a"]["client_secret"] == new.fields["client_secret"]
    assert document["credentials/a"]["retiring"]["client_secret"] == old.fields["client_secret"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert_not_leaked(capsys, *old.values(), *other.values(), *new.values())


def test_without_identity_an_existing_file_is_never_overwritten(tmp_path, capsys):
    identity = x25519.Identity.generate()
    path = tmp_path / "secrets.json.age"
    first = client_secret("credentials/a")
    AgeSink(path, [str(identity.to_public())]).deliver(first)
    before = path.read_bytes()
    quiet_run = AgeSink(path, [str(identity.to_public())])
    quiet_run.preflight()  # a run that creates no secret is not blocked and writes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.json.age"]
    next_run = AgeSink(path, [str(identity.to_public())])
    next_run.preflight()
    second, third = client_secret("credentials/b"), api_key("users/c@acme.example")
    next_run.deliver(second)
    next_run.deliver(third)
    assert path.read_bytes() == before
    [sibling] = [p for p in tmp_path.iterdir() if p != path]
    assert sibling.name.startswith("secrets.json.20") and sibling.name.endswith("Z.age")
    assert next_run.describe() == f"{sibling} (age, 1 recipient(s))"
    assert stat.S_IMODE(os.stat(sibling).st_mode) == 0o600
    assert sorted(json.loads(pyrage.decrypt(sibling.read_bytes(), [identity]))) == [
        "credentials/b",
        "users/c@acme.example",
    ]
    assert list(json.loads(pyrage.decrypt(before, [identity]))) == ["credentials/a"]
    with pytest.raises(SecretSinkError) as error:
        next_run.read()
    assert str(error.value) == (
        f"can't read age secrets file {path}: set secrets.identity_file to an age identity that can decrypt it"
    )
    assert_not_leaked(capsys, *first.values(), *second.values(), *third.values(), texts=[str(error.value)])


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        (["age1notakey"], r"secrets.recipients\[0\] \(age1notakey\) is not a valid age recipient"),
        (["pgp:ABCDEF"], r"secrets.recipients\[0\] \(pgp:ABCDEF\) is not an X25519 \(age1...\) or ssh-ed25519/ssh-rsa"),
        (["ssh-ed25519 AAAAnot-base64"], r"secrets.recipients\[0\] .* is not a valid age recipient"),
        ([], "secrets.recipients is empty: list at least one age1... or ssh-ed25519 public key"),
    ],
)
def test_preflight_rejects_undecodable_recipients(tmp_path, recipients, message):
    with pytest.raises(SecretSinkError, match=message):
        AgeSink(tmp_path / "s.age", recipients).preflight()


def test_preflight_checks_the_identity_and_the_path(tmp_path):
    identity, stranger = x25519.Identity.generate(), x25519.Identity.generate()
    keyfile = identity_file(tmp_path, stranger, "stranger.txt")
    with pytest.raises(SecretSinkError, match=f"is for {stranger.to_public()}, which is not among secrets.recipients"):
        AgeSink(tmp_path / "s.age", [str(identity.to_public())], identity_file=keyfile).preflight()
    path = tmp_path / "s.age"
    AgeSink(path, [str(identity.to_public())]).deliver(client_secret("credentials/a"))
    both = AgeSink(path, [str(identity.to_public()), str(stranger.to_public())], identity_file=keyfile)
    with pytest.raises(SecretSinkError, match=f"secrets.identity_file {keyfile} can't decrypt {path}"):
        both.preflight()
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("not an identity\n")
    with pytest.raises(SecretSinkError, match=f"secrets.identity_file {garbage} holds no usable identity"):
        AgeSink(path, [str(identity.to_public())], identity_file=garbage).preflight()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SecretSinkError, match=r"age secrets file .*file/s.age is not writable"):
        AgeSink(blocker / "s.age", [str(identity.to_public())]).preflight()


def test_make_sink_builds_an_age_sink_with_paths_beside_keyform_yaml(tmp_path):
    identity = x25519.Identity.generate()
    config = PluginConfig(
        "age", {"path": "out/s.age", "recipients": [str(identity.to_public())], "identity_file": "k.txt"}
    )
    sink = make_sink(config, tmp_path)
    assert isinstance(sink, AgeSink)
    assert (sink.path, sink.identity_file) == (tmp_path / "out" / "s.age", tmp_path / "k.txt")
    assert sink.describe() == f"{tmp_path / 'out' / 's.age'} (age, 1 recipient(s))"


def test_a_deleted_resource_is_retired_with_identity_and_left_alone_without(tmp_path):
    identity = x25519.Identity.generate()
    path = tmp_path / "secrets.json.age"
    sink = AgeSink(path, [str(identity.to_public())], identity_file=identity_file(tmp_path, identity))
    sink.deliver(client_secret("credentials/a"))
    sink.deliver(client_secret("credentials/b", "s2"))
    sink.retire("credentials/a")
    sink.retire("credentials/nobody")  # nothing held for it: nothing changes
    document = sink.read()
    retired_at = document["credentials/a"].pop("retired_at")
    assert datetime.fromisoformat(retired_at) > WHEN
    assert document["credentials/a"] == {
        "type": "client_credentials",
        "client_id": "kfc_1",
        "secret_id": "s1",
        "created_at": "2026-01-02T03:04:05Z",
    }
    assert "client_secret" in document["credentials/b"] and sorted(document) == ["credentials/a", "credentials/b"]
    before = path.read_bytes()
    AgeSink(path, [str(identity.to_public())]).retire("credentials/b")  # can't decrypt: leaves the file
    assert path.read_bytes() == before


def test_with_identity_file_a_moved_entry_is_re_encrypted_under_its_new_address(tmp_path, capsys):
    identity = x25519.Identity.generate()
    keyfile = identity_file(tmp_path, identity)
    path = tmp_path / "secrets.json.age"
    sink = AgeSink(path, [str(identity.to_public())], identity_file=keyfile)
    sink.preflight()
    secret = client_secret("credentials/old")
    sink.deliver(secret)
    sink.move("credentials/old", "credentials/new")
    document = AgeSink(path, [str(identity.to_public())], identity_file=keyfile).read()
    assert list(document) == ["credentials/new"]
    assert document["credentials/new"]["client_secret"] == secret.fields["client_secret"]
    assert_not_leaked(capsys, *secret.values())
