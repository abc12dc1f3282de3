"""The retry policy: which failures are retried, how long to wait, ``Retry-After``.

`RetryPolicy` holds the numbers; `Transport` (``transport``) runs the one retry loop with
it, for every kind of request (JSON calls, the SSE word stream, HLS playlists and
segments). Every backoff sleep goes through `sleep` (looked up on this module at call
time), so tests can replace it with a recorder that returns at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "BASE_DELAY",
    "MAX_BACKOFF",
    "MAX_DELAY",
    "RetryPolicy",
    "backoff_delay",
    "is_retryable_status",
    "never_sent",
    "parse_retry_after",
    "sleep",
]

BASE_DELAY = 0.5
"""First backoff delay in seconds (doubles per retry)."""

MAX_BACKOFF = 8.0
"""Upper bound of the computed exponential backoff."""

MAX_DELAY = 20.0
"""Upper bound of any delay, including a server's ``Retry-After``."""

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def never_sent(exc: BaseException) -> bool:
    """True when ``exc`` proves the request never reached the server."""
    return isinstance(exc, _NEVER_SENT)


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx responses are worth retrying (for idempotent endpoints)."""
    return status in (408, 429) or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date).

    Returns ``None`` when the header is missing or unparsable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" zone: HTTP dates are always UTC
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a `Transport` retries: how often, after which answers, after how long.

    Attributes:
        max_retries: retries after the first attempt.
        retry_status: whether a response status is worth another attempt (idempotent
            requests only; a non-idempotent one is retried only when it never left).
        base_delay: the first backoff delay (doubled per retry).
        max_backoff: upper bound of the computed backoff.
        jitter: draw each delay from its upper half (``[d/2, d]``) instead of ``d``.

    A server's ``Retry-After`` always wins, up to `MAX_DELAY`; a longer one is not waited.
    """

    max_retries: int = 2
    retry_status: Callable[[int], bool] = is_retryable_status
    base_delay: float = BASE_DELAY
    max_backoff: float = MAX_BACKOFF
    jitter: bool = True

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Delay before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return min(retry_after, MAX_DELAY)
        delay = min(self.base_delay * 2.0**retry, self.max_backoff)
        return delay / 2 + random.random() * delay / 2 if self.jitter else delay


def backoff_delay(retry: int, retry_after: float | None = None) -> float:
    """Delay before retry number ``retry`` (0-based) under the default `RetryPolicy`.

    A server's ``Retry-After`` wins (capped at `MAX_DELAY`); otherwise exponential
    backoff from `BASE_DELAY`, capped at `MAX_BACKOFF`, with jitter in the
    upper half (``[d/2, d]``).
    """
    return _DEFAULT.delay(retry, retry_after)


_DEFAULT = RetryPolicy()


async def sleep(delay: float) -> None:
    """Wait ``delay`` seconds before a retry (patched to zero in tests)."""
    await asyncio.sleep(delay)
