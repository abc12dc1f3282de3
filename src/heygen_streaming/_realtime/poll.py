"""The status poller of a `RealtimeSession`: ``GET`` the stream until it ends.

It polls every 0.2 s while the HLS URL is not live yet (the first frame waits on it),
then every ``interval``; `poke` asks for a poll now (the media reached its end, so the
final status is near). It reports what it learns through callbacks and changes no state
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import NotFoundError
from .models import RealtimeInfo

if TYPE_CHECKING:
    from .._client import StreamingClient

__all__ = ["PENDING_POLL", "StatusPoller"]

logger = logging.getLogger("heygen_streaming")

PENDING_POLL = 0.2
"""Seconds between polls until the stream is live."""

MAX_FAILURES = 10
"""Consecutive failed polls (after the client's own retries) that end the stream."""


class StatusPoller:
    """Polls one stream's status.

    Args:
        client / stream_id: what to poll.
        interval: seconds between polls once live.
        live: whether the stream is live yet (slower polling then).
        done: whether to stop (the stream reached a terminal state).
        on_info: called with every status read.
        on_lost: called with a message when the stream cannot be followed any more (404,
            or `MAX_FAILURES` failed polls in a row).
    """

    def __init__(
        self,
        client: StreamingClient,
        stream_id: str,
        *,
        interval: float,
        live: Callable[[], bool],
        done: Callable[[], bool],
        on_info: Callable[[RealtimeInfo], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self._client = client
        self._stream_id = stream_id
        self._interval = interval
        self._live = live
        self._done = done
        self._on_info = on_info
        self._on_lost = on_lost
        self._poke = asyncio.Event()

    def poke(self) -> None:
        """Poll now instead of at the next tick."""
        self._poke.set()

    async def run(self) -> None:
        """Poll until ``done()``; returns early after ``on_lost``."""
        failures = 0
        while not self._done():
            try:
                info = await self._client.get_realtime(self._stream_id)
            except NotFoundError:
                self._on_lost("the service no longer knows this stream (404)")
                return
            except Exception as exc:  # any answer we cannot use counts as a failed poll,
                failures += 1  # so the poller never dies silently (wait_ended would hang)
                logger.warning("realtime %s: status poll failed: %s", self._stream_id, exc)
                if failures >= MAX_FAILURES:
                    self._on_lost(f"status polling failed {failures} times: {exc}")
                    return
            else:
                failures = 0
                self._on_info(info)
            if self._done():
                return
            wait = self._interval if self._live() else min(PENDING_POLL, self._interval)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._poke.wait()
            self._poke.clear()
