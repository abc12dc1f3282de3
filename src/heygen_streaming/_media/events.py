"""Event streams of any session kind: a hub that copies each event to every subscriber.

`EventHub` keeps a bounded history, so a stream opened late still sees what happened
first; each `EventStream` is bounded and drop-oldest (a `RingBuffer`), and ends after the
kind's final event (``is_final``), which the hub delivers last. Each kind gives the values:
its event types and which one is final (LiveAvatar: ``_liveavatar.events.event_hub``; v1:
``_v1.events``, whose public `EventStream` is a subclass with its own name and docstring).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from .ring import RingBuffer, check_capacity

__all__ = ["EventHub", "EventStream"]

E = TypeVar("E")


class EventStream(Generic[E]):
    """An async iterator over a session's events: the history so far, then live ones, up
    to the final one. Bounded (``capacity``), drop-oldest (counted in `dropped`);
    ``async with`` (or `close`) unsubscribes."""

    def __init__(self, hub: EventHub[E], capacity: int) -> None:
        self._hub = hub
        self._ring: RingBuffer[E] = RingBuffer(check_capacity(capacity))

    def __len__(self) -> int:
        """Events queued and not yet read."""
        return len(self._ring)

    @property
    def capacity(self) -> int:
        """The most events held at once."""
        return self._ring.capacity

    @property
    def dropped(self) -> int:
        """Events discarded because the reader was slower than the session."""
        return self._ring.dropped

    def put(self, event: E) -> None:
        """Queue an event (never blocks); the final one ends the stream."""
        self._ring.put(event)
        if self._hub.is_final(event):
            self._ring.end()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        return await self._ring.get()

    def close(self) -> None:
        """Unsubscribe and end iteration."""
        self._ring.clear()
        self._ring.end()
        self._hub.discard(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventHub(Generic[E]):
    """Copies each emitted event to every subscriber and keeps the last ``history``.

    ``is_final`` tells the session's last event: after it nothing more is delivered.
    """

    def __init__(self, is_final: Callable[[E], bool], history: int = 256) -> None:
        self.is_final = is_final
        self._history: collections.deque[E] = collections.deque(maxlen=history)
        self._streams: list[EventStream[E]] = []
        self.final: E | None = None

    def subscribe(self, capacity: int = 256) -> EventStream[E]:
        """A new stream: the history so far, then live events, ending with the final one."""
        stream = EventStream(self, capacity)
        self.attach(stream)
        return stream

    def attach(self, stream: EventStream[E]) -> None:
        """Feed ``stream`` (new, made on this hub) the history so far, then live events."""
        for event in self._history:
            stream.put(event)
        if self.final is None:
            self._streams.append(stream)

    def discard(self, stream: EventStream[E]) -> None:
        """Forget a subscriber."""
        if stream in self._streams:
            self._streams.remove(stream)

    def emit(self, event: E) -> None:
        """Deliver an event; after the final one nothing more is delivered."""
        if self.final is not None:
            return
        self._history.append(event)
        if self.is_final(event):
            self.final = event
            streams, self._streams = self._streams, []
        else:
            streams = list(self._streams)
        for stream in streams:
            stream.put(event)
