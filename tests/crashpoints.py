"""A `keyform` run killed (SIGKILL) at one point of a keyform-generated secret's way to its system:
before the write-ahead to the sink, before or after the provider sets it, after the confirm."""

from __future__ import annotations

POINTS = ["before-write-ahead", "before-set", "after-set", "after-confirm"]

_SCRIPT = """
import os, signal, sys
from keyform.secrets.file_sink import FileSink
from {module} import {provider} as Provider

point = sys.argv.pop(1)
deliver, set_secret = FileSink.deliver, Provider.apply_with_secret

def kill():
    os.kill(os.getpid(), signal.SIGKILL)

def delivering(sink, secret):
    if point == "before-write-ahead" and secret.pending:
        kill()
    deliver(sink, secret)
    if point == "after-confirm" and not secret.pending:
        kill()

def setting(provider, change, secret):
    if point == "before-set":
        kill()
    outcome = set_secret(provider, change, secret)
    if point == "after-set":
        kill()
    return outcome

FileSink.deliver, Provider.apply_with_secret = delivering, setting
from keyform.cli import main
main(sys.argv[1:], prog_name="keyform")
"""


def killed_at(module: str, provider: str) -> str:
    """The script (for `python -c SCRIPT POINT ARGS...`) that runs keyform and kills it at POINT."""
    return _SCRIPT.format(module=module, provider=provider)
