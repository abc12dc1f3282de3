"""A bounded, drop-oldest async queue with an end-of-stream: the buffer behind every stream.

`FrameStream`, `EventStream` and the recorder's queues are all a `RingBuffer`: `put`
never blocks (when the buffer is over its item or byte budget the oldest items go, and
are counted), `end` wakes every waiting reader, and `get` drains what is queued before it
reports the end (quietly, or by raising the error given to `end`).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .._errors import ConfigurationError

__all__ = ["RingBuffer", "check_capacity", "check_max_bytes"]

T = TypeVar("T")


def check_capacity(value: Any, name: str = "capacity") -> int:
    """``value`` if it is an int >= 1, else `ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_max_bytes(value: Any, name: str = "max_bytes") -> int | None:
    """``value`` if it is None (no byte budget) or an int >= 1, else `ConfigurationError`."""
    if value is None:
        return None
    return check_capacity(value, name)


class RingBuffer(Generic[T]):
    """At most ``capacity`` items and ``max_bytes`` bytes (as told by ``sizeof``), oldest out first.

    The byte budget never drops the newest item: one item larger than the budget is kept
    alone, so a reader always gets the latest item. Single event-loop use: every method
    must be called from the loop that awaits `get`.
    """

    def __init__(
        self,
        capacity: int,
        *,
        max_bytes: int | None = None,
        sizeof: Callable[[T], int] | None = None,
    ) -> None:
        self.capacity = check_capacity(capacity)
        self.max_bytes = check_max_bytes(max_bytes)
        self._sizeof = sizeof
        self._items: collections.deque[tuple[T, int]] = collections.deque()
        self.nbytes = 0
        self.dropped = 0
        self.received = 0
        self._wakeup = asyncio.Event()
        self._ended = False
        self._error: Callable[[], BaseException] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        """True once `end` was called: nothing more is accepted."""
        return self._ended

    def items(self) -> list[T]:
        """The queued items, oldest first (a copy)."""
        return [item for item, _ in self._items]

    def put(self, item: T) -> None:
        """Append ``item``, dropping the oldest items while over budget. Never blocks."""
        if self._ended:
            return
        size = self._sizeof(item) if self._sizeof is not None else 0
        self.received += 1
        self._items.append((item, size))
        self.nbytes += size
        budget = self.max_bytes
        while len(self._items) > self.capacity or (
            budget is not None and self.nbytes > budget and len(self._items) > 1
        ):
            _, old = self._items.popleft()
            self.nbytes -= old
            self.dropped += 1
        self._wakeup.set()

    def end(self, error: Callable[[], BaseException] | None = None) -> None:
        """No more items; readers drain the queue, then stop (or raise ``error()``)."""
        if self._ended:
            return
        self._ended = True
        self._error = error
        self._wakeup.set()

    def clear(self) -> None:
        """Forget every queued item."""
        self._items.clear()
        self.nbytes = 0

    async def get(self) -> T:
        """The oldest item, waiting for one; at the end `StopAsyncIteration` or the end's error."""
        while not self._items:
            if self._ended:
                if self._error is not None:
                    raise self._error()
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        item, size = self._items.popleft()
        self.nbytes -= size
        return item
