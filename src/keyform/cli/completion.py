"""Shell completion of addresses (`--target`, `--replace`, `rotate`, `show`, ...), offline.

Completion reads the desired state only (no provider call, no environment reference resolved):
the addresses it declares. A desired state that doesn't load completes nothing, silently, as a
shell expects.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem

from keyform.errors import KeyformError


def declared_addresses(config: Path | None, directory: Path | None) -> list[str]:
    """Every address the desired state declares ([] when it doesn't load)."""
    from keyform.workspace import open_workspace

    try:
        workspace = open_workspace(config, directory, resolve_env=False)
    except KeyformError:
        return []
    return sorted(workspace.state.resource_map)


def complete_address(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The declared addresses starting with what was typed (the root command's --config and -C apply)."""
    params = ctx.find_root().params
    addresses = declared_addresses(params.get("config"), params.get("directory"))
    return [CompletionItem(address) for address in addresses if address.startswith(incomplete)]
