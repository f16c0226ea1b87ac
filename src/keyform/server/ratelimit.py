"""Token buckets per caller: `rate` requests per second, bursts up to `rate` (at least 1).

Each authenticated principal (a user's API key, a credential's access tokens) has its own bucket;
every request that is not authenticated (public operations, unknown paths, missing or invalid
tokens) shares one more. An anonymous flood therefore empties only the anonymous bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

ANONYMOUS = "anonymous"


class TokenBucket:
    """Thread-safe; `take()` returns 0 when a request may pass, else seconds to wait (>= 1)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0
            return max(1, math.ceil((1 - self._tokens) / self.rate))


class RateLimiter:
    """One `TokenBucket` per caller key (a principal, or `ANONYMOUS`), made on first use.

    Keys are verified identities only, so their number is bounded by the keys and credentials
    that exist; an unauthenticated caller can't mint new buckets.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> int:
        """0 when `caller` may make a request now, else seconds to wait (>= 1)."""
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = TokenBucket(self.rate, self._clock)
        return bucket.take()
