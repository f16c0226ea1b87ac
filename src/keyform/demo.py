"""`keyform demo`: the whole loop against an embedded `keyform server`, with no setup.

Starts the server on a free loopback port with a temporary database, applies the bundled
example organisation, shows where the new secrets went (never their values), makes a change
behind keyform's back, shows the drift plan and converges again. It reports through the
settings' UI; a used work directory raises `OrganizationExistsError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from importlib.resources import as_file, files
from pathlib import Path

from keyform import engine
from keyform.model import DesiredState
from keyform.providers.http import ApiClient
from keyform.secrets.file_sink import FileSink
from keyform.server import running_server
from keyform.settings import Settings

OWNER = "owner@acme.example"
DRIFT_CREDENTIAL = "bi-reporting"


def copy_example(destination: Path) -> Path:
    """Copy the bundled example organisation into destination; returns its keyform.yaml."""
    with as_file(files("keyform") / "examples") as source:
        shutil.copytree(
            source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".keyform", "ci")
        )
    return destination / "keyform.yaml"


def run_demo(settings: Settings, workdir: Path | None = None) -> None:
    say = settings.ui.echo
    with ExitStack() as stack:
        base = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keyform-demo-")))
        base.mkdir(parents=True, exist_ok=True)
        root = copy_example(base / "org")
        server = stack.enter_context(running_server(base / "credentials.db", init_owner=OWNER))
        say(f"1. Started keyform server at {server.url} (database {base / 'credentials.db'}, Account Owner {OWNER}).")
        environ = {**os.environ, "KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.owner_token or ""}
        settings = replace(settings, config=root, directory=None, environ=environ)
        with engine.session(settings) as run:
            say(f"2. Desired state: {root} ({_count(run.workspace.state)}). Planning against the live organisation:\n")
            say(engine.render(run.plan().plan, "text"))
            say("\n3. Applying it (keyform apply --auto-approve):\n")
            _apply(run)
            sink = run.sink()
            addresses = sorted(FileSink(Path(sink.describe())).read()) if isinstance(sink, FileSink) else []
            say(f"\n4. New secrets went to {sink.describe()} (mode 0600, a .gitignore beside it), and nowhere else:")
            say("   " + ", ".join(addresses) if addresses else "   (none)")
            _drift(server.url, server.owner_token or "")
            say(f"\n5. Someone changes credentials/{DRIFT_CREDENTIAL} in the API directly: it gains employees:write.")
            say("\n6. `keyform plan --detailed-exitcode` finds the drift (exit code 2 in CI):\n")
            say(engine.render(run.plan().plan, "text"))
            say("\n7. `keyform apply --auto-approve` puts it back:\n")
            _apply(run)
            final = run.plan().plan
        say(f"\n8. Plan after apply: {'no changes' if final.empty else f'{len(final.changes)} change(s) left'}.")
        if workdir is None:
            say(
                "The demo's server, database and secrets file are removed now; `keyform demo --workdir DIR` keeps them."
            )


def _apply(run: engine.Run) -> None:
    report = engine.converge(run, approved=True, show_plan=False)
    if report is not None:
        run.ui.echo(engine.format_report(report, run.sink().describe()))


def _count(state: DesiredState) -> str:
    return ", ".join(f"{len(state.of(kind.name))} {kind.name}" for kind in state.kinds if not kind.singleton)


def _drift(url: str, token: str) -> None:
    """An out-of-band change through the API: a credential quietly gains write access."""
    client = ApiClient(url, token)
    try:
        items = client.paginate("/v1/credentials", what="credentials", page_size=1000)
        credential = next((item for item in items if item["name"] == DRIFT_CREDENTIAL), None)
        if credential is None:
            return
        permissions = {**credential["permissions"], "employees": ["read", "write"]}
        client.request(
            "PATCH",
            f"/v1/credentials/{credential['id']}",
            what=f"credentials/{DRIFT_CREDENTIAL}",
            json={"permissions": permissions},
            if_match=credential["etag"],
        )
    finally:
        client.close()
