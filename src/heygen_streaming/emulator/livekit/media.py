"""Media plumbing: one source track fanned out to many peer connections, and clients'
tracks handed on through a bounded buffer.

`TrackFanout` reads a server participant's track once and feeds every subscriber (one
aiortc sender per client) through a bounded, drop-oldest queue, so a slow peer never holds
up the others nor grows memory. It reads the source only while someone is subscribed, can
pause forwarding (`pause`, the ``drop_media`` fault), and asks a source that yields
pre-encoded video for a key frame whenever a subscriber starts or forwarding resumes (the
source's ``request_keyframe()``, if it has one: a new receiver cannot decode from a delta
frame).

`BufferedTrack` wraps a client's received track: it is always drained (aiortc would queue
decoded frames without bound otherwise) and keeps the newest ``capacity`` frames for
whoever reads it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

__all__ = ["BufferedTrack", "TrackFanout"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")

DEFAULT_CAPACITY = 8


class _Queue:
    """A bounded drop-oldest queue of frames; ``None`` marks the end."""

    def __init__(self, capacity: int) -> None:
        self._items: collections.deque[Any] = collections.deque(maxlen=capacity)
        self._ready = asyncio.Event()
        self.ended = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        if self.ended:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def get(self) -> Any:
        while not self._items:
            if self.ended:
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class _FanoutTrack(MediaStreamTrack):
    """What one peer connection sends: frames from the fanout's queue."""

    def __init__(self, fanout: TrackFanout, capacity: int) -> None:
        super().__init__()
        self.kind = fanout.kind
        self._fanout: TrackFanout | None = fanout
        self.queue = _Queue(capacity)

    async def recv(self) -> Any:
        if self.readyState != "live" or self._fanout is None:
            raise MediaStreamError
        self._fanout._attach(self)
        try:
            return await self.queue.get()
        except MediaStreamError:
            self.stop()
            raise

    def stop(self) -> None:
        super().stop()
        self.queue.end()
        if self._fanout is not None:
            self._fanout._detach(self)
            self._fanout = None


class TrackFanout:
    """Read ``source`` once, forward each frame to every `subscribe`-d track."""

    def __init__(self, source: MediaStreamTrack, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.source = source
        self.kind: str = source.kind
        self.capacity = capacity
        self.forwarded = 0
        self._subscribers: set[_FanoutTrack] = set()
        self._task: asyncio.Task[None] | None = None
        self._paused_until = 0.0
        self._closed = False

    def subscribe(self) -> MediaStreamTrack:
        """A new track fed by this fanout (one per peer connection)."""
        track = _FanoutTrack(self, self.capacity)
        if self._closed:
            track.stop()
        return track

    def pause(self, seconds: float) -> None:
        """Drop every frame for ``seconds`` (the source keeps its pace)."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    @property
    def paused(self) -> bool:
        """Frames are being dropped (`pause`)."""
        return time.monotonic() < self._paused_until

    def request_keyframe(self) -> None:
        """Ask the source for a key frame (when it encodes its own video)."""
        request = getattr(self.source, "request_keyframe", None)
        if callable(request):
            request()

    def close(self) -> None:
        """Stop forwarding for good; every subscriber track ends. The source is not stopped
        (its owner may use it elsewhere)."""
        self._closed = True
        for track in list(self._subscribers):
            track.stop()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _attach(self, track: _FanoutTrack) -> None:
        if track in self._subscribers or self._closed:
            return
        self._subscribers.add(track)
        self.request_keyframe()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump())

    def _detach(self, track: _FanoutTrack) -> None:
        self._subscribers.discard(track)

    async def _pump(self) -> None:
        was_paused = False
        try:
            while self._subscribers:
                try:
                    frame = await self.source.recv()
                except MediaStreamError:
                    break
                if self.paused:
                    was_paused = True
                    continue
                if was_paused:
                    was_paused = False
                    self.request_keyframe()
                self.forwarded += 1
                for track in list(self._subscribers):
                    track.queue.put(frame)
            else:
                return  # nobody listens: stop reading; the next subscriber restarts
            for track in list(self._subscribers):  # the source ended
                track.stop()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("reading a published track failed")
            for track in list(self._subscribers):
                track.stop()
        finally:
            if self._task is asyncio.current_task():
                self._task = None


class BufferedTrack(MediaStreamTrack):
    """A client's track, drained continuously, keeping the newest ``capacity`` frames."""

    def __init__(self, remote: MediaStreamTrack, *, capacity: int = 50) -> None:
        super().__init__()
        self.kind = remote.kind
        self.received = 0
        self._remote = remote
        self._queue = _Queue(capacity)
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await self._remote.recv()
                self.received += 1
                self._queue.put(frame)
        self._queue.end()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()

    def stop(self) -> None:
        super().stop()
        self._task.cancel()
        self._queue.end()
