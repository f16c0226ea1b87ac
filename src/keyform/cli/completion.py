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


def declared_addresses(config: Path | None, directory: Path | None, *, with_secret: bool = False) -> list[str]:
    """Every address the desired state declares (`with_secret`: whose secret keyform manages);
    [] when it doesn't load."""
    from keyform.workspace import open_workspace

    try:
        state = open_workspace(config, directory, resolve_env=False).state
    except KeyformError:
        return []
    return sorted(address for address in state.resource_map if not with_secret or state.has_secret(address))


def complete_address(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The declared addresses starting with what was typed (the root command's --config and -C apply)."""
    return _complete(ctx, incomplete, with_secret=False)


def complete_secret_address(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The declared addresses with a secret keyform manages (what `rotate` and `--replace` take)."""
    return _complete(ctx, incomplete, with_secret=True)


def _complete(ctx: click.Context, incomplete: str, *, with_secret: bool) -> list[CompletionItem]:
    params = ctx.find_root().params
    addresses = declared_addresses(params.get("config"), params.get("directory"), with_secret=with_secret)
    return [CompletionItem(address) for address in addresses if address.startswith(incomplete)]
