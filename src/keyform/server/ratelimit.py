"""A global token bucket: `rate` requests per second, bursts up to `rate` (at least 1)."""

from __future__ import annotations

import math
import threading
import time


class TokenBucket:
    """Thread-safe; `take()` returns 0 when a request may pass, else seconds to wait (>= 1)."""

    def __init__(self, rate: float, clock=time.monotonic):
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
