import json
import os
import stat
import subprocess
from datetime import UTC, datetime

import pytest

from keyform.contract import GeneratedSecret
from keyform.errors import SecretSinkError
from keyform.secrets.file_sink import FileSink
from tests.fakes import break_fsync

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def secret(address, value, secret_id="s1", retiring=None):
    return GeneratedSecret(
        address, "client_credentials", {"client_id": "kfc_1", "client_secret": value}, secret_id, WHEN, retiring
    )


def test_writes_0600_file_in_0700_directory_with_gitignore(tmp_path):
    sink = FileSink(tmp_path / ".keyform" / "secrets.json")
    sink.preflight()
    sink.deliver(secret("credentials/a", "kfs_one"))
    assert stat.S_IMODE(os.stat(sink.pending_path).st_mode) == 0o600  # durable before close
    sink.close()
    assert not sink.pending_path.exists()
    assert stat.S_IMODE(os.stat(sink.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sink.path.parent).st_mode) == 0o700
    assert (sink.path.parent / ".gitignore").read_text().splitlines()[-1] == "*"
    entry = json.loads(sink.path.read_text())["credentials/a"]
    assert entry == {
        "type": "client_credentials",
        "client_id": "kfc_1",
        "client_secret": "kfs_one",
        "secret_id": "s1",
        "created_at": "2026-01-02T03:04:05Z",
    }


def test_merges_with_existing_entries_and_keeps_retiring_secret_during_overlap(tmp_path):
    sink = FileSink(tmp_path / "s" / "secrets.json")
    sink.deliver(secret("credentials/a", "kfs_one"))
    sink.deliver(secret("credentials/b", "kfs_two", "s2"))
    sink.deliver(secret("credentials/a", "kfs_three", "s3", retiring="s1"))
    sink.close()
    document = json.loads(sink.path.read_text())
    assert document["credentials/b"]["client_secret"] == "kfs_two"
    assert document["credentials/a"]["client_secret"] == "kfs_three"
    assert document["credentials/a"]["retiring"]["client_secret"] == "kfs_one"
    assert [p.name for p in sink.path.parent.iterdir() if p.name.startswith(".secrets")] == []  # no temp files left


def test_preflight_refuses_unwritable_or_corrupt_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SecretSinkError, match=r"secrets file .*file/secrets.json is not writable"):
        FileSink(blocker / "secrets.json").preflight()
    corrupt = tmp_path / "c" / "secrets.json"
    corrupt.parent.mkdir()
    corrupt.write_text("{not json")
    with pytest.raises(SecretSinkError, match="is not valid JSON: restore it or move it away"):
        FileSink(corrupt).preflight()


def test_deliveries_of_a_killed_run_are_read_and_folded_in_by_the_next_preflight(tmp_path):
    killed = FileSink(tmp_path / "s" / "secrets.json")
    killed.deliver(secret("credentials/a", "kfs_one"))
    killed.deliver(secret("credentials/b", "kfs_two", "s2"))  # no close(): the process died here
    killed._pending.close()  # as the OS does for a killed process; nothing folded in
    with open(killed.pending_path, "a") as handle:
        handle.write('{"address": "credentials/c", "ent')  # torn line: never acknowledged
    assert sorted(FileSink(killed.path).read()) == ["credentials/a", "credentials/b"]
    FileSink(killed.path).preflight()
    assert not killed.pending_path.exists()
    assert sorted(json.loads(killed.path.read_text())) == ["credentials/a", "credentials/b"]


def test_a_failed_sync_is_a_sink_error_and_the_secret_stays_in_the_pending_log(tmp_path, monkeypatch):
    sink = FileSink(tmp_path / "secrets.json")
    sink.preflight()
    break_fsync(monkeypatch, 5, "Input/output error")
    with pytest.raises(
        SecretSinkError, match=r"^could not write secrets file .*secrets\.json\.pending \(Input/output error\)$"
    ):
        sink.deliver(secret("credentials/a", "kfs_one"))
    with pytest.raises(SecretSinkError, match=r"\(Input/output error\)$"):
        sink.close()  # the sync is retried, and still fails: reported, not a traceback
    monkeypatch.undo()
    assert FileSink(tmp_path / "secrets.json").read()["credentials/a"]["client_secret"] == "kfs_one"


def git(directory, *args):
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(directory), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_a_sink_beside_keyform_yaml_is_ignored_by_git_and_the_repository_left_alone(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "keyform.yaml").write_text("version: 1\n")
    (tmp_path / ".gitignore").write_text("build/")  # the project's own rules, no final newline
    mode = stat.S_IMODE(os.stat(tmp_path).st_mode)
    sink = FileSink(tmp_path / "secrets.json")
    sink.preflight()
    sink.deliver(secret("credentials/a", "kfs_one"))
    assert git(tmp_path, "ls-files", "--others", "--exclude-standard").split() == [".gitignore", "keyform.yaml"]
    sink.close()
    FileSink(tmp_path / "secrets.json").preflight()  # a second run adds nothing
    assert git(tmp_path, "ls-files", "--others", "--exclude-standard").split() == [".gitignore", "keyform.yaml"]
    assert (tmp_path / ".gitignore").read_text() == (
        "build/\n# written by keyform: secrets never go into git\n"
        "/secrets.json\n/secrets.json.pending\n/.secrets.json.*\n"
    )
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == mode  # not chmodded: it's the user's directory


def test_a_sink_file_tracked_by_git_is_refused_before_anything_is_written(tmp_path):
    git(tmp_path, "init", "-q")
    tracked = tmp_path / "secrets.json"
    tracked.write_text("{}\n")
    git(tmp_path, "add", "secrets.json")
    git(tmp_path, "commit", "-q", "-m", "oops")
    with pytest.raises(SecretSinkError) as error:
        FileSink(tracked).preflight()
    assert str(error.value) == (
        f"secrets file {tracked} is tracked by git, so its secrets would be committed: "
        f"run `git rm --cached {tracked}` and commit, then run keyform again"
    )
    assert tracked.read_text() == "{}\n"
    assert not (tmp_path / ".gitignore").exists()
    git(tmp_path, "rm", "-q", "--cached", "secrets.json")
    FileSink(tracked).preflight()


def test_a_symlinked_sink_directory_is_refused_and_its_target_left_alone(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    link = tmp_path / ".keyform"
    link.symlink_to(target)
    with pytest.raises(SecretSinkError) as error:
        FileSink(link / "secrets.json").preflight()
    assert str(error.value) == (
        f"secrets directory {link} is a symlink: keyform won't chmod or write secrets through it; "
        "make it a real directory or point secrets.path at the target"
    )
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755
    assert list(target.iterdir()) == []


def test_a_deleted_resource_is_retired_its_secret_dropped_and_a_new_one_replaces_it(tmp_path):
    sink = FileSink(tmp_path / "s" / "secrets.json")
    sink.deliver(secret("credentials/a", "kfs_one"))
    sink.deliver(secret("credentials/a", "kfs_two", "s2", retiring="s1"))
    sink.deliver(secret("credentials/b", "kfs_three", "s3"))
    sink.retire("credentials/a")
    sink.retire("roles/reader")  # nothing held for it: nothing logged
    sink.close()
    text = sink.path.read_text()
    assert "kfs_one" not in text and "kfs_two" not in text
    document = json.loads(text)
    retired_at = document["credentials/a"].pop("retired_at")
    assert datetime.fromisoformat(retired_at) > WHEN
    assert document == {
        "credentials/a": {
            "type": "client_credentials",
            "client_id": "kfc_1",
            "secret_id": "s2",
            "created_at": "2026-01-02T03:04:05Z",
        },
        "credentials/b": {**document["credentials/b"], "client_secret": "kfs_three"},
    }
    again = FileSink(sink.path)
    again.retire("credentials/a")  # already retired: nothing logged
    assert not again.pending_path.exists()
    again.deliver(secret("credentials/a", "kfs_four", "s4"))  # created again under the same name
    again.close()
    assert json.loads(sink.path.read_text())["credentials/a"]["client_secret"] == "kfs_four"


def test_a_retired_entry_keeps_only_the_fields_its_provider_marked_public(tmp_path):
    # An AWS-style secret: the key id is public, the secret access key is not; neither is named
    # like the keyform provider's fields, so only what the provider declared public may stay.
    key = GeneratedSecret(
        address="users/ci",
        type="aws_access_key",
        fields={"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"},
        secret_id="AKIAEXAMPLE",
        created_at=WHEN,
        public=("aws_access_key_id",),
    )
    sink = FileSink(tmp_path / "s" / "secrets.json")
    sink.deliver(key)
    sink.close()
    from keyform.verify import secret_values

    assert secret_values(json.loads(sink.path.read_text())) == ["wJalrXUtnFEMI/K7MDENG"]
    again = FileSink(sink.path)
    again.retire("users/ci")
    again.close()
    text = sink.path.read_text()
    assert "wJalrXUtnFEMI/K7MDENG" not in text
    entry = json.loads(text)["users/ci"]
    assert entry["aws_access_key_id"] == "AKIAEXAMPLE" and "retired_at" in entry


def test_a_moved_entry_is_at_the_new_address_only_and_a_torn_move_keeps_the_secret(tmp_path):
    sink = FileSink(tmp_path / ".keyform" / "secrets.json")
    sink.preflight()
    sink.deliver(secret("credentials/old", "kfs_one"))
    sink.close()
    moved = FileSink(sink.path)
    moved.preflight()
    moved.move("credentials/old", "credentials/new")
    moved.move("credentials/absent", "credentials/other")  # nothing there: nothing to do
    moved.close()
    document = json.loads(sink.path.read_text())
    assert set(document) == {"credentials/new"} and document["credentials/new"]["client_secret"] == "kfs_one"

    killed = FileSink(sink.path)
    killed.preflight()
    killed.move("credentials/new", "credentials/newer")
    killed._pending.close()  # killed before folding in; then the second line is torn, as a crash may leave it
    lines = killed.pending_path.read_text().splitlines()
    killed.pending_path.write_text(lines[0] + "\n" + lines[1][:10])
    recovered = FileSink(sink.path)
    recovered.recover()
    document = json.loads(sink.path.read_text())
    assert document["credentials/newer"]["client_secret"] == "kfs_one"  # never lost: at worst at both addresses
