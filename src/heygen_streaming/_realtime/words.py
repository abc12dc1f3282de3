"""Following a realtime stream's words: the service's SSE batches, bounded by the session.

The word stream has its own end (``event: end``), but a service that never sends it must
not hang the reader: once the stream itself has ended, a word stream quiet for
`WORDS_GRACE` seconds is over too; closing the session ends it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from .models import Word, WordBatch

__all__ = ["WORDS_GRACE", "follow_words"]

WORDS_GRACE = 2.0
"""Seconds `follow_words` waits for more words once the stream has ended."""


async def follow_words(
    batches: AsyncGenerator[WordBatch, None],
    *,
    closed: Callable[[], Awaitable[None]],
    ended: Callable[[], Awaitable[None]],
    failure: Callable[[], BaseException | None],
) -> AsyncGenerator[Word, None]:
    """The words of ``batches`` until their end, ``closed()`` or the grace after ``ended()``.

    After the grace, ``failure()`` (the stream's error, if it ended in one) is raised.
    ``batches`` is closed on the way out.
    """
    closing = asyncio.ensure_future(closed())
    over = asyncio.ensure_future(ended())
    following: asyncio.Future[WordBatch] | None = None
    try:
        while True:
            if following is None:
                following = asyncio.ensure_future(anext(batches))
            grace = WORDS_GRACE if over.done() else None
            waiters: set[asyncio.Future[Any]] = {following, closing}
            if grace is None:
                waiters.add(over)
            await asyncio.wait(waiters, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            if following.done():
                try:
                    batch = following.result()
                except StopAsyncIteration:
                    return
                following = None
                for word in batch.words:
                    yield word
            elif closing.done():
                return
            elif grace is not None:
                error = failure()
                if error is not None:
                    raise error
                return
    finally:
        closing.cancel()
        over.cancel()
        if following is not None and not following.done():
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
        await batches.aclose()
