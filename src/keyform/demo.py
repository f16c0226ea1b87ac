"""`keyform demo`: the whole loop against an embedded `keyform server`, with no setup.

Starts the server on a free loopback port with a temporary database, applies the bundled
example organisation, shows where the new secrets went (never their values), makes a change
behind keyform's back, shows the drift plan and converges again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING

from keyform import engine
from keyform.errors import KeyformError
from keyform.providers.http import ApiClient
from keyform.secrets.file_sink import FileSink
from keyform.workspace import open_workspace, register_config_secrets

if TYPE_CHECKING:
    from keyform.cli import GlobalOptions

OWNER = "owner@acme.example"
DRIFT_CREDENTIAL = "bi-reporting"


def copy_example(destination: Path) -> Path:
    """Copy the bundled example organisation into destination; returns its keyform.yaml."""
    with as_file(files("keyform") / "examples") as source:
        shutil.copytree(
            source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".keyform", "ci")
        )
    return destination / "keyform.yaml"


def run_demo(options: GlobalOptions, workdir: Path | None = None) -> None:
    from keyform.server import running_server
    from keyform.server.runner import OrganizationExistsError

    say = options.echo
    with ExitStack() as stack:
        base = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keyform-demo-")))
        base.mkdir(parents=True, exist_ok=True)
        root = copy_example(base / "org")
        try:
            server = stack.enter_context(running_server(base / "credentials.db", init_owner=OWNER))
        except OrganizationExistsError as error:
            raise KeyformError(
                f"{error}: the demo needs a fresh --workdir (or remove {base / 'credentials.db'})"
            ) from None
        say(f"1. Started keyform server at {server.url} (database {base / 'credentials.db'}, Account Owner {OWNER}).")
        environ = {**os.environ, "KEYFORM_URL": server.url, "KEYFORM_TOKEN": server.owner_token or ""}
        workspace = open_workspace(root, None, environ=environ)
        register_config_secrets(workspace.state, options.redactor)
        say(f"2. Desired state: {root} ({_count(workspace)}). Planning against the live organisation:\n")
        say(engine.render(engine.plan(workspace).plan, "text"))
        say("\n3. Applying it (keyform apply --auto-approve):\n")
        engine.run_apply(workspace, options, auto_approve=True, show_plan=False)
        sink = workspace.sink()
        addresses = sorted(FileSink(Path(sink.describe())).read()) if isinstance(sink, FileSink) else []
        say(f"\n4. New secrets went to {sink.describe()} (mode 0600, a .gitignore beside it), and nowhere else:")
        say("   " + ", ".join(addresses) if addresses else "   (none)")
        _drift(server.url, server.owner_token or "", options)
        drift = engine.plan(workspace).plan
        say("\n6. `keyform plan --detailed-exitcode` finds the drift (exit code 2 in CI):\n")
        say(engine.render(drift, "text"))
        say("\n7. `keyform apply --auto-approve` puts it back:\n")
        engine.run_apply(workspace, options, auto_approve=True, show_plan=False)
        final = engine.plan(workspace).plan
        say(f"\n8. Plan after apply: {'no changes' if final.empty else f'{len(final.changes)} change(s) left'}.")
        if workdir is None:
            say(
                "The demo's server, database and secrets file are removed now; `keyform demo --workdir DIR` keeps them."
            )


def _count(workspace) -> str:  # type: ignore[no-untyped-def]
    state = workspace.state
    return ", ".join(f"{len(state.of(kind))} {kind}" for kind in ("roles", "users", "credentials"))


def _drift(url: str, token: str, options: GlobalOptions) -> None:
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
    options.echo(f"\n5. Someone changes credentials/{DRIFT_CREDENTIAL} in the API directly: it gains employees:write.")
