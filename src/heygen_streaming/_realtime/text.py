"""The text of a ``text_stream``: deltas sent one request at a time, in the order given.

Appends are not idempotent and the service speaks them in the order they arrive, so
concurrent ``say()`` calls must not race each other on the wire (they did: 40 calls through
``gather`` came out with 14 inversions). `TextInput` queues each delta at once, in call
order, and one sender sends them one append at a time; deltas given while an append is in
flight are joined into the next one (the reference allows "a coalesced batch of tokens"),
so a fast producer (an LLM's tokens) is never more than one round trip behind. A final
delta (``finish()``) closes its batch: what comes after it goes in a later request (and
gets the service's 410). A failed append fails the deltas queued behind it too: sending
them would speak the text out of order.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .._errors import SessionClosed
from .models import RealtimeAppendResult

__all__ = ["MAX_BATCH", "TextInput"]

MAX_BATCH = 4000
"""Most characters one append carries when queued deltas are joined (a longer delta is
sent alone, as given)."""

Send = Callable[[str, bool], Awaitable[RealtimeAppendResult]]


@dataclass
class _Batch:
    """Deltas sent in one append; every caller that queued one awaits its ``result``."""

    parts: list[str] = field(default_factory=list)
    size: int = 0
    final: bool = False
    result: asyncio.Future[RealtimeAppendResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def __post_init__(self) -> None:
        # a caller may stop waiting (cancelled): never "exception was never retrieved"
        self.result.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[RealtimeAppendResult]) -> None:
    if not future.cancelled():
        future.exception()


class TextInput:
    """Ordered, coalescing text input: `put` queues, one sender calls ``send(text, final)``."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._queue: collections.deque[_Batch] = collections.deque()
        self._sender: asyncio.Task[None] | None = None
        self._closed: BaseException | None = None

    @property
    def pending(self) -> int:
        """Batches queued and not sent yet (the one in flight excluded)."""
        return len(self._queue)

    def put(self, delta: str, final: bool = False) -> asyncio.Future[RealtimeAppendResult]:
        """Queue ``delta`` behind everything queued before (synchronously: the order of
        the calls is the order on the wire); the future is the append that carried it."""
        if self._closed is not None:
            failed: asyncio.Future[RealtimeAppendResult] = (
                asyncio.get_running_loop().create_future()
            )
            failed.set_exception(self._closed)
            return failed
        batch = self._queue[-1] if self._queue else None
        if batch is None or batch.final or (batch.size and batch.size + len(delta) > MAX_BATCH):
            batch = _Batch()
            self._queue.append(batch)
        batch.parts.append(delta)
        batch.size += len(delta)
        batch.final = final
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._drain())
        return batch.result

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue.popleft()  # in flight: later deltas go in the next batch
            try:
                result = await self._send("".join(batch.parts), batch.final)
            except BaseException as exc:
                # this one failed: so do those behind it (they would be spoken out of order)
                failed = [batch, *self._queue]
                self._queue.clear()
                for queued in failed:
                    if queued.result.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):  # closed, or the loop's end
                        closed = SessionClosed("the realtime session is closed", reason="closed")
                        queued.result.set_exception(self._closed or closed)
                    else:
                        queued.result.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            batch.result.set_result(result)

    def close(self, error: BaseException) -> None:
        """Refuse new text with ``error``, fail what is queued, stop the sender."""
        self._closed = error
        pending = list(self._queue)
        self._queue.clear()
        for batch in pending:
            if not batch.result.done():
                batch.result.set_exception(error)
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()

    async def wait_closed(self) -> None:
        """Wait for the sender to stop (after `close`)."""
        if self._sender is not None:
            await asyncio.wait({self._sender})
