"""Frames from a worker thread to the event loop, bounded in bytes: back-pressure on the thread.

A decoder thread hands its frames to the loop. One ``loop.call_soon_threadsafe`` per frame
queues them in the loop's own, unbounded, queue: while the loop is busy (4 s of
synchronous user code), decoded frames pile up there past every stream's byte budget (a
1080p stream grew by 376 MB against a 32 MiB budget). `FrameHandoff.put`, on the thread,
waits instead while the frames the loop has not taken yet hold more than ``budget()``
bytes; the loop takes them all in one callback and hands them to the streams, where each
stream's own budget applies (drop-oldest). What sits between the two is bounded by the
budget plus one frame, whatever the loop is doing.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FrameHandoff"]


class FrameHandoff:
    """A bounded hand-over of ``(kind, frame)`` from one thread to the loop.

    Args:
        loop: the loop ``deliver`` runs on.
        deliver: called on the loop with each frame, in order.
        budget: the bytes the frames not yet delivered may hold (read on the thread, at
            each frame); one frame is always let through, whatever its size.
        sizeof: the bytes of one frame.

    Attributes:
        peak: the most bytes held at once so far.
        waits: how often the thread waited for the loop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[str, Any], None],
        budget: Callable[[], int],
        sizeof: Callable[[Any], int],
    ) -> None:
        self._loop = loop
        self._deliver = deliver
        self._budget = budget
        self._sizeof = sizeof
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[str, Any]] = collections.deque()
        self._bytes = 0
        self._scheduled = False
        self._closed = False
        self.peak = 0
        self.waits = 0

    def put(self, kind: str, frame: Any) -> bool:
        """(The thread.) Hand ``frame`` over, waiting while over budget; False once closed
        (the thread should stop)."""
        size = self._sizeof(frame)
        with self._cond:
            while self._items and self._bytes + size > self._budget() and not self._closed:
                self.waits += 1
                self._cond.wait()
            if self._closed:
                return False
            self._items.append((kind, frame))
            self._bytes += size
            self.peak = max(self.peak, self._bytes)
            schedule, self._scheduled = not self._scheduled, True
        if schedule:
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody will take them
                self.close()
                return False
        return True

    def _drain(self) -> None:
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._bytes = 0
            self._scheduled = False
            self._cond.notify_all()
        for kind, frame in items:
            self._deliver(kind, frame)

    def close(self) -> None:
        """Drop what was not delivered and release a waiting thread (its `put` is False)."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._bytes = 0
            self._cond.notify_all()
