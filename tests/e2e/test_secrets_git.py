"""Secrets never end up in git: the sink's files are ignored wherever they are, a tracked one is refused."""

from __future__ import annotations

import subprocess


def git(workdir, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(workdir), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_a_sink_at_the_repository_root_stays_out_of_git_and_a_tracked_one_is_refused(org):
    config = org.workdir / "keyform.yaml"
    config.write_text(config.read_text().replace("path: .keyform/secrets.json", "path: secrets.json"))
    git(org.workdir, "init", "-q")
    assert org.keyform("apply", "--auto-approve").exit_code == 0
    git(org.workdir, "add", "-A")
    committed = git(org.workdir, "diff", "--cached", "--name-only").split()
    assert "secrets.json" not in committed and ".gitignore" in committed
    secrets = (org.workdir / "secrets.json").read_text()

    git(org.workdir, "add", "-f", "secrets.json")  # someone forces it in
    (org.workdir / "access" / "extra.yaml").write_text("credentials:\n  nightly-export:\n    roles: []\n")
    result = org.keyform("apply", "--auto-approve")

    path = org.workdir / "secrets.json"
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: secrets file {path} is tracked by git, so its secrets would be committed: "
        f"run `git rm --cached {path}` and commit, then run keyform again"
    )
    assert path.read_text() == secrets
    client = org.api()
    names = [item["name"] for item in client.paginate("/v1/credentials", what="credentials", page_size=500)]
    client.close()
    assert "payroll-sync" in names and "nightly-export" not in names  # refused before the first change
