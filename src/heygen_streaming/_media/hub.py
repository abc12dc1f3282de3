"""The media side of a session of any WebRTC kind: fan-outs, events, watchdog, recorders.

A `MediaHub` holds one `FrameFanout` per kind (video replays its latest frame to a new
subscriber), the session's `EventHub`, the `Watchdog` and the recorders; every
``video()`` / ``audio()`` is a bounded `FrameStream` on a fan-out and every recorder
subscribes to both. What feeds the fan-outs is the kind's own: v1 pumps aiortc's tracks
(``_v1.hub``), LiveAvatar's room pumps the official client's streams
(``_liveavatar.media``). A session that stalls without an error (ICE failure surfaces in
aiortc after ~63 s; a LiveKit room can stay up with nothing in it) is ended by the
`Watchdog` after ``watchdog_timeout`` seconds without media (`MediaHub.last_media`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .events import EventHub, EventStream
from .streams import FrameFanout, FrameStream, Transform

if TYPE_CHECKING:
    from .recording import Recorder

__all__ = ["MediaHub", "Watchdog", "cancel_task"]

logger = logging.getLogger("heygen_streaming")

E = TypeVar("E")


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


class MediaHub(Generic[E]):
    """Frames and events of one session, from its tracks to every subscriber.

    Args:
        events: the session's event hub (its kind's events and final event).
        on_first_frame: called with ``"video"`` or ``"audio"`` at the first frame of each.
    """

    def __init__(
        self, events: EventHub[E], on_first_frame: Callable[[str], None] | None = None
    ) -> None:
        self.started_at = time.monotonic()
        self.events = events
        self.fanouts = {
            "video": FrameFanout("video", on_first_frame, replay_latest=True),
            "audio": FrameFanout("audio", on_first_frame),
        }
        self._recorders: set[Recorder] = set()
        self._watchdog: Watchdog | None = None
        self.closed = False

    def emit(self, event: E) -> None:
        """Deliver an event to every event stream."""
        self.events.emit(event)

    def last_media(self) -> float | None:
        """``time.monotonic()`` of the latest frame of any kind (None before any)."""
        times = [f.last_frame_at for f in self.fanouts.values() if f.last_frame_at is not None]
        return max(times) if times else None

    def start_watchdog(self, timeout: float, on_stall: Callable[[float], None]) -> None:
        """Call ``on_stall(idle)`` once no media arrived for ``timeout`` seconds (once)."""
        if self._watchdog is None:
            self._watchdog = Watchdog(timeout, self.last_media, on_stall)
            self._watchdog.start()

    # -- consumer side -------------------------------------------------------------------

    def video(self, capacity: int, max_bytes: int | None) -> FrameStream[Any]:
        """A new video stream (starting with the picture currently shown)."""
        return self.fanouts["video"].subscribe(capacity, max_bytes=max_bytes)

    def audio(
        self, capacity: int, transform: Transform | None, max_bytes: int | None
    ) -> FrameStream[Any]:
        """A new audio stream, ``transform`` applied on the reader's side."""
        return self.fanouts["audio"].subscribe(capacity, transform, max_bytes=max_bytes)

    def event_stream(self, capacity: int) -> EventStream[E]:
        """A new event stream: the history so far, then live events."""
        return self.events.subscribe(capacity)

    def recorder(self, path: str | os.PathLike[str]) -> Recorder:
        """A started `Recorder` fed by both fan-outs."""
        from .recording import Recorder  # not needed to connect: loaded on first use

        recorder = Recorder(path, self.fanouts["video"], self.fanouts["audio"])
        recorder.start()
        self._recorders.add(recorder)
        return recorder

    def forget(self, recorder: Recorder) -> None:
        """The caller stops ``recorder`` itself."""
        self._recorders.discard(recorder)

    # -- end -----------------------------------------------------------------------------

    def end(self, reason: str | None = None, message: str = "") -> None:
        """End every frame stream: quietly, or with `SessionClosed` when ``reason`` is set."""
        for fanout in self.fanouts.values():
            fanout.end(reason=reason, message=message)

    async def stop_watchdog(self) -> None:
        """Stop the watchdog (idempotent)."""
        if self._watchdog is not None:
            await self._watchdog.stop()

    async def aclose(self) -> None:
        """End the streams, finish the recordings, stop the watchdog."""
        self.closed = True
        self.end()
        recorders, self._recorders = list(self._recorders), set()
        for recorder in recorders:
            with contextlib.suppress(Exception):
                await recorder.stop()
        await self.stop_watchdog()


async def cancel_task(task: asyncio.Future[Any] | None) -> None:
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
