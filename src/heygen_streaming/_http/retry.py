"""Retry policy helpers: which failures are retried, backoff delays, ``Retry-After``.

Every backoff sleep goes through `sleep` (looked up on this module at call time), so
tests can replace it with a recorder that returns at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "BASE_DELAY",
    "MAX_BACKOFF",
    "MAX_DELAY",
    "NON_IDEMPOTENT",
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

NON_IDEMPOTENT = frozenset({"streaming.new", "streaming.task"})
"""Endpoints retried only when the request never left (they cost money / repeat speech)."""

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


def backoff_delay(retry: int, retry_after: float | None = None) -> float:
    """Delay before retry number ``retry`` (0-based).

    A server's ``Retry-After`` wins (capped at `MAX_DELAY`); otherwise exponential
    backoff from `BASE_DELAY`, capped at `MAX_BACKOFF`, with jitter in the
    upper half (``[d/2, d]``).
    """
    if retry_after is not None:
        return min(retry_after, MAX_DELAY)
    delay = min(BASE_DELAY * 2.0**retry, MAX_BACKOFF)
    return delay / 2 + random.random() * delay / 2


async def sleep(delay: float) -> None:
    """Wait ``delay`` seconds before a retry (patched to zero in tests)."""
    await asyncio.sleep(delay)
