"""The media side of a session: track pumps, frame and event fan-outs, watchdog, recorders.

aiortc buffers a remote track's decoded frames without bound, so each track is pumped
from the moment it arrives into a `FrameFanout` whose subscribers hold bounded streams.
ICE failure takes ~63 s and a vanished peer ~29 s to surface in aiortc: the `Watchdog`
ends a session that received no media for ``watchdog_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._media.streams import FrameFanout, FrameStream, Transform, pump_track
from .events import EventHub, EventStream, MediaStarted, SessionEvent

if TYPE_CHECKING:
    from .._media.recording import Recorder

__all__ = ["MediaHub", "Watchdog"]

logger = logging.getLogger("heygen_streaming")


class Watchdog:
    """Calls ``on_stall(idle_seconds)`` once when ``last_media()`` is older than ``timeout``.

    ``last_media`` returns a ``time.monotonic()`` value (or None before any media).
    """

    def __init__(
        self,
        timeout: float,
        last_media: Callable[[], float | None],
        on_stall: Callable[[float], None],
    ) -> None:
        self.timeout = timeout
        self._last_media = last_media
        self._on_stall = on_stall
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        period = max(0.05, min(1.0, self.timeout / 5))
        while True:
            await asyncio.sleep(period)
            last = self._last_media()
            idle = time.monotonic() - (last if last is not None else started)
            if idle > self.timeout:
                self._on_stall(idle)
                return

    async def stop(self) -> None:
        """Stop watching and wait for the task to end."""
        task, self._task = self._task, None
        await cancel_task(task)


class MediaHub:
    """Frames and events of one session, from the peer's tracks to every subscriber.

    ``on_track_end(kind, error)`` is called when a track ends while the hub is open.
    """

    def __init__(self, on_track_end: Callable[[str, BaseException | None], None]) -> None:
        self.started_at = time.monotonic()
        self.events = EventHub()
        self.fanouts = {
            "video": FrameFanout("video", self._on_first_frame, replay_latest=True),
            "audio": FrameFanout("audio", self._on_first_frame),
        }
        self._on_track_end = on_track_end
        self._pumps: list[asyncio.Task[None]] = []
        self._recorders: set[Recorder] = set()
        self._watchdog: Watchdog | None = None
        self._closed = False

    # -- producer side ---------------------------------------------------------------

    def on_track(self, track: Any) -> None:
        """Start pumping a remote track (aiortc's ``track`` event)."""
        fanout = self.fanouts.get(track.kind)
        if fanout is not None and not self._closed:
            self._pumps.append(asyncio.ensure_future(pump_track(track, fanout, self._track_end)))

    def _track_end(self, kind: str, error: BaseException | None) -> None:
        if not self._closed:
            self._on_track_end(kind, error)

    def _on_first_frame(self, kind: str) -> None:
        self.emit(MediaStarted(kind=kind, elapsed=time.monotonic() - self.started_at))

    def emit(self, event: SessionEvent) -> None:
        """Deliver an event to every event stream."""
        self.events.emit(event)

    async def first_frame(self, kind: str) -> None:
        """Return once the first frame of ``kind`` arrived."""
        await self.fanouts[kind].first_frame.wait()

    def last_media(self) -> float | None:
        """``time.monotonic()`` of the latest frame of any kind (None before any)."""
        times = [f.last_frame_at for f in self.fanouts.values() if f.last_frame_at is not None]
        return max(times) if times else None

    def start_watchdog(self, timeout: float, on_stall: Callable[[float], None]) -> None:
        """Call ``on_stall(idle)`` once no media arrived for ``timeout`` seconds."""
        self._watchdog = Watchdog(timeout, self.last_media, on_stall)
        self._watchdog.start()

    # -- consumer side ---------------------------------------------------------------

    def video(self, capacity: int, max_bytes: int | None) -> FrameStream[Any]:
        """A new video stream (starting with the picture currently shown)."""
        return self.fanouts["video"].subscribe(capacity, max_bytes=max_bytes)

    def audio(
        self, capacity: int, transform: Transform | None, max_bytes: int | None
    ) -> FrameStream[Any]:
        """A new audio stream, ``transform`` applied on the reader's side."""
        return self.fanouts["audio"].subscribe(capacity, transform, max_bytes=max_bytes)

    def event_stream(self, capacity: int) -> EventStream:
        """A new event stream: the history so far, then live events."""
        return self.events.subscribe(capacity)

    def recorder(self, path: str | os.PathLike[str]) -> Recorder:
        """A started `Recorder` fed by this hub's fan-outs."""
        from .._media.recording import Recorder  # not needed to connect: loaded on first use

        recorder = Recorder(path, self.fanouts["video"], self.fanouts["audio"])
        recorder.start()
        self._recorders.add(recorder)
        return recorder

    def forget(self, recorder: Recorder) -> None:
        """The caller stops ``recorder`` itself."""
        self._recorders.discard(recorder)

    # -- end -------------------------------------------------------------------------

    def end(self, reason: str | None = None, message: str = "") -> None:
        """End every frame stream: quietly, or with `SessionClosed` when ``reason`` is set."""
        for fanout in self.fanouts.values():
            fanout.end(reason=reason, message=message)

    async def stop_watchdog(self) -> None:
        """Stop the watchdog (idempotent)."""
        if self._watchdog is not None:
            await self._watchdog.stop()

    async def aclose(self) -> None:
        """End the streams, finish the recordings, stop the watchdog and every pump."""
        self._closed = True
        self.end()
        recorders, self._recorders = list(self._recorders), set()
        for recorder in recorders:
            with contextlib.suppress(Exception):
                await recorder.stop()
        await self.stop_watchdog()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it, unless it is done or is the running task.

    A cancellation of the caller itself while waiting is propagated.
    """
    if task is None or task.done() or task is asyncio.current_task():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception as exc:
        logger.debug("background task failed: %r", exc)
