"""The organisation-wide apply lock: one apply at a time, waiting or failing with the holder's name."""

from __future__ import annotations

import getpass
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from keyform.contract import LockedError, Provider
from keyform.errors import KeyformError

log = logging.getLogger("keyform.locking")

LOCK_TTL_SECONDS = 900
_OWNER = re.compile(r"^[^@]*@(?P<host>\S+) pid (?P<pid>\d+)")


def lock_owner() -> str:
    """Who is applying: user@host, process id, and the CI job when there is one."""
    job = os.environ.get("GITHUB_RUN_ID") or os.environ.get("CI_JOB_ID")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    owner = f"{user}@{socket.gethostname()} pid {os.getpid()}"
    return f"{owner} (CI job {job})" if job else owner


def held_by_dead_process(owner: str) -> bool:
    """True when the lock's owner is an apply on this host whose process no longer exists."""
    match = _OWNER.match(owner)
    if not match or match["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def apply_lock(
    provider: Provider,
    *,
    timeout: float = 0.0,
    ttl: int = LOCK_TTL_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 1.0,
) -> Iterator[str | None]:
    """Hold the provider's lock for the block; wait up to `timeout` seconds for another apply."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            lock_id = provider.lock(lock_owner(), ttl)
            break
        except LockedError as error:
            if held_by_dead_process(error.owner):
                if on_wait:
                    on_wait(f"taking over the lock of a crashed apply ({error.owner})")
                provider.unlock(error.lock_id)
                continue
            if time.monotonic() >= deadline:
                raise
            if on_wait and not told:
                on_wait(str(error))
                told = True
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    if lock_id is None:
        yield None
        return
    stop = threading.Event()
    heartbeat = threading.Thread(target=_keep_alive, args=(provider, lock_id, ttl, stop), daemon=True)
    heartbeat.start()
    try:
        yield lock_id
    finally:
        stop.set()
        heartbeat.join()
        _release(provider, lock_id)


def _release(provider: Provider, lock_id: str) -> None:
    """Release the lock; if the API can't be reached, say so without hiding what the apply reports."""
    try:
        provider.unlock(lock_id)
    except KeyformError as error:
        log.warning(
            "could not release apply lock %s (%s): it expires by itself, or run `keyform force-unlock %s`",
            lock_id,
            error,
            lock_id,
        )


def _keep_alive(provider: Provider, lock_id: str, ttl: int, stop: threading.Event) -> None:
    while not stop.wait(ttl / 3):
        try:
            provider.extend_lock(lock_id, ttl)
        except Exception:  # a missed heartbeat must not kill the apply; the TTL still protects
            continue
