"""v1's media side: aiortc's tracks pumped into the shared `MediaHub` from the moment they
arrive.

aiortc buffers a remote track's decoded frames without bound, so each track is pumped
from the moment it arrives into the hub's `FrameFanout` (whose subscribers hold bounded
streams); the first frame of each kind is a `MediaStarted` event. The fan-outs, events,
watchdog (ICE failure takes ~63 s and a vanished peer ~29 s to surface in aiortc) and
recorders are the shared ``_media.hub``'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .._media import hub as _hub
from .._media.streams import pump_track
from .events import EventHub, EventStream, MediaStarted, SessionEvent

__all__ = ["MediaHub"]


class MediaHub(_hub.MediaHub[SessionEvent]):
    """Frames and events of one session, from the peer's tracks to every subscriber.

    ``on_track_end(kind, error)`` is called when a track ends while the hub is open.
    """

    events: EventHub

    def __init__(self, on_track_end: Callable[[str, BaseException | None], None]) -> None:
        super().__init__(EventHub(), self._on_first_frame)
        self._on_track_end = on_track_end
        self._pumps: list[asyncio.Task[None]] = []

    def on_track(self, track: Any) -> None:
        """Start pumping a remote track (aiortc's ``track`` event)."""
        fanout = self.fanouts.get(track.kind)
        if fanout is not None and not self.closed:
            self._pumps.append(asyncio.ensure_future(pump_track(track, fanout, self._track_end)))

    def _track_end(self, kind: str, error: BaseException | None) -> None:
        if not self.closed:
            self._on_track_end(kind, error)

    def _on_first_frame(self, kind: str) -> None:
        self.emit(MediaStarted(kind=kind, elapsed=time.monotonic() - self.started_at))

    async def first_frame(self, kind: str) -> None:
        """Return once the first frame of ``kind`` arrived."""
        await self.fanouts[kind].first_frame.wait()

    def event_stream(self, capacity: int) -> EventStream:
        """A new event stream: the history so far, then live events."""
        return self.events.subscribe(capacity)

    async def aclose(self) -> None:
        """End the streams, finish the recordings, stop the watchdog and every pump."""
        await super().aclose()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
