"""A LiveAvatar session's media and events on the SDK side: fan-outs, watchdog, recorders.

The room (`.room`) pumps the avatar's tracks into the two `FrameFanout` objects here, each
frame converted once (`.frames`); every ``video()`` / ``audio()`` is a bounded
`FrameStream` on them and every recorder subscribes to both, as in v1 and v3. Events go
through one `EventHub`. The watchdog ends a session whose video stopped for
``watchdog_timeout`` seconds (a room that stays up with nothing in it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._media.streams import FrameFanout, FrameStream, Transform
from .events import EventStream, LiveAvatarEvent, event_hub

if TYPE_CHECKING:
    from .._media.recording import Recorder

__all__ = ["MediaHub", "cancel_task"]

logger = logging.getLogger("heygen_streaming")


class MediaHub:
    """Frames and events of one session, from the room to every subscriber."""

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.events = event_hub()
        self.fanouts = {
            "video": FrameFanout("video", replay_latest=True),
            "audio": FrameFanout("audio"),
        }
        self._recorders: set[Recorder] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.closed = False

    def emit(self, event: LiveAvatarEvent) -> None:
        """Deliver an event to every event stream."""
        self.events.emit(event)

    def last_media(self) -> float | None:
        """``time.monotonic()`` of the latest video frame (None before any). Audio does
        not count: the client's audio playout makes frames (silence, concealment) even
        when no packet arrives."""
        return self.fanouts["video"].last_frame_at

    def start_watchdog(self, timeout: float, on_stall: Callable[[float], None]) -> None:
        """Call ``on_stall(idle_seconds)`` once no media arrived for ``timeout`` seconds."""

        async def watch() -> None:
            started = time.monotonic()
            period = max(0.05, min(1.0, timeout / 5))
            while True:
                await asyncio.sleep(period)
                last = self.last_media()
                idle = time.monotonic() - (last if last is not None else started)
                if idle > timeout:
                    on_stall(idle)
                    return

        if self._watchdog is None:
            self._watchdog = asyncio.ensure_future(watch())

    # -- consumer side -------------------------------------------------------------------

    def video(self, capacity: int, max_bytes: int | None) -> FrameStream[Any]:
        """A new video stream (starting with the picture currently shown)."""
        return self.fanouts["video"].subscribe(capacity, max_bytes=max_bytes)

    def audio(
        self, capacity: int, transform: Transform | None, max_bytes: int | None
    ) -> FrameStream[Any]:
        """A new audio stream, ``transform`` applied on the reader's side."""
        return self.fanouts["audio"].subscribe(capacity, transform, max_bytes=max_bytes)

    def event_stream(self, capacity: int) -> EventStream[LiveAvatarEvent]:
        """A new event stream: the history so far, then live events."""
        return self.events.subscribe(capacity)

    def recorder(self, path: str | os.PathLike[str]) -> Recorder:
        """A started `Recorder` fed by both fan-outs."""
        from .._media.recording import Recorder

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

    async def aclose(self) -> None:
        """End the streams, finish the recordings, stop the watchdog."""
        self.closed = True
        self.end()
        recorders, self._recorders = list(self._recorders), set()
        for recorder in recorders:
            with contextlib.suppress(Exception):
                await recorder.stop()
        await cancel_task(self._watchdog)


async def cancel_task(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait for it, unless it is done or is the running task; a
    cancellation of the caller itself while waiting is propagated."""
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
