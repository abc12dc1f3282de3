"""Per-caller, per-endpoint request limits in 1-second windows (as LiveAvatar publishes)."""

from __future__ import annotations

import math
import time

__all__ = ["RateLimiter"]

MAX_TRACKED = 50_000


class RateLimiter:
    """At most ``limit`` requests per caller and endpoint in each 1-second window.

    `check` returns None when a request may go ahead, else the seconds until the window
    resets (the ``Retry-After``). Memory is bounded: counters older than the current window
    are dropped, and at most `MAX_TRACKED` callers are tracked at once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._window = -1
        self._counts: dict[tuple[str, str], int] = {}

    def check(self, caller: str, endpoint: str, now: float | None = None) -> float | None:
        """Count one request; the wait in seconds if it is over the limit, else None."""
        now = time.monotonic() if now is None else now
        window = math.floor(now)
        if window != self._window:
            self._window = window
            self._counts.clear()
        key = (caller, endpoint)
        count = self._counts.get(key, 0) + 1
        if len(self._counts) < MAX_TRACKED or key in self._counts:
            self._counts[key] = count
        if count > self.limit:
            return max(0.001, window + 1 - now)
        return None
