"""Bounded frame streams and the per-track fan-out that feeds them.

aiortc buffers decoded frames of a remote track in an unbounded queue. The session pumps each
track from the moment it arrives into a `FrameFanout`, which hands every frame to the
`FrameStream` of each subscriber. A stream holds at most ``capacity`` frames and
``max_bytes`` bytes of decoded pixels or samples, and drops the oldest when over either
budget (counted in `FrameStream.dropped`), so memory stays flat whether or not anybody
reads, even when a hostile server sends huge frames.

Frames are shared between the subscribers of a track: nothing in this package changes a
frame it hands out (the recorder works on copies), and readers should treat them as
read-only too.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .._errors import SessionClosed
from .ring import RingBuffer, check_capacity, check_max_bytes

__all__ = [
    "AUDIO_MAX_BYTES",
    "VIDEO_MAX_BYTES",
    "FrameFanout",
    "FrameStream",
    "Subscriber",
    "frame_nbytes",
    "pump_track",
]

logger = logging.getLogger("heygen_streaming")

if TYPE_CHECKING:  # PyAV loads with aiortc, once streaming.new is on its way
    import av

F = TypeVar("F", "av.VideoFrame", "av.AudioFrame")

Transform = Callable[[Any], list[Any]]

#: Default byte budget of a video stream: ten 1080p yuv420p frames (3.1 MB each).
VIDEO_MAX_BYTES = 32 * 1024 * 1024
#: Default byte budget of an audio stream: over 5 s of 48 kHz stereo s16.
AUDIO_MAX_BYTES = 1024 * 1024


def frame_nbytes(frame: Any) -> int:
    """Bytes held by a decoded PyAV frame (all planes); 0 for anything else."""
    import av

    if isinstance(frame, av.VideoFrame | av.AudioFrame):
        return sum(plane.buffer_size for plane in frame.planes)
    return 0


def _default_max_bytes(kind: str) -> int:
    return AUDIO_MAX_BYTES if kind == "audio" else VIDEO_MAX_BYTES


def _to_ndarray(frame: Any, format: str | None) -> Any:
    import av

    if isinstance(frame, av.VideoFrame):
        return frame.to_ndarray(format=format or "rgb24")
    return frame.to_ndarray()


class FrameStream(Generic[F]):
    """An async iterator over the frames of one track, bounded and drop-oldest.

    Returned by `Session.video` and `Session.audio`; each call gives an
    independent stream. Iteration ends quietly when the session is closed normally and raises
    `heygen_streaming.SessionClosed` when it ends abnormally (watchdog, ICE failure,
    server gone). A reader waiting when the session ends is always woken.

    Use it as an async context manager (or call `close`) to unsubscribe early.

    Args:
        kind: ``"video"`` or ``"audio"``.
        capacity: the most frames held at once (an int >= 1, else `ConfigurationError`).
        max_bytes: the most decoded bytes held at once; None means the default for the
            kind (`VIDEO_MAX_BYTES`, `AUDIO_MAX_BYTES`). The newest frame is always kept,
            even alone over the budget.
        transform: applied to each frame when read (e.g. an audio resampler).
        on_close: called once with the stream when it is closed.

    Attributes:
        kind: ``"video"`` or ``"audio"``.
        capacity: the most frames held at once.
        max_bytes: the most decoded bytes held at once.
        dropped: frames discarded because the reader was slower than the track.
        received: frames handed to this stream (read or dropped or still queued).
    """

    def __init__(
        self,
        kind: str,
        capacity: int,
        *,
        max_bytes: int | None = None,
        transform: Transform | None = None,
        on_close: Callable[[FrameStream[Any]], None] | None = None,
    ) -> None:
        self.kind = kind
        budget = check_max_bytes(max_bytes)
        self._ring: RingBuffer[F] = RingBuffer(
            check_capacity(capacity),
            max_bytes=_default_max_bytes(kind) if budget is None else budget,
            sizeof=frame_nbytes,
        )
        self._pending: collections.deque[F] = collections.deque()
        self._transform = transform
        self._on_close = on_close

    def __repr__(self) -> str:
        return (
            f"<FrameStream {self.kind} queued={len(self._ring)}/{self.capacity} "
            f"dropped={self.dropped}{' ended' if self.ended else ''}>"
        )

    def __len__(self) -> int:
        """Frames queued and not yet read."""
        return len(self._ring)

    @property
    def capacity(self) -> int:
        """The most frames held at once."""
        return self._ring.capacity

    @property
    def max_bytes(self) -> int | None:
        """The most decoded bytes held at once."""
        return self._ring.max_bytes

    @property
    def nbytes(self) -> int:
        """Decoded bytes queued now."""
        return self._ring.nbytes

    @property
    def dropped(self) -> int:
        """Frames discarded because the reader was slower than the track."""
        return self._ring.dropped

    @property
    def received(self) -> int:
        """Frames handed to this stream (read, dropped or still queued)."""
        return self._ring.received

    @property
    def ended(self) -> bool:
        """True once no more frames will arrive."""
        return self._ring.ended

    # -- producer side (event loop thread only) ---------------------------------------

    def put(self, frame: F) -> None:
        """Queue a frame, dropping the oldest ones when over budget. Never blocks."""
        self._ring.put(frame)

    def end(self, *, reason: str | None = None, message: str = "") -> None:
        """No more frames: readers drain what is queued, then stop.

        With ``reason`` (an abnormal end) they then raise ``SessionClosed(message, reason=...)``.
        """
        if reason is None:
            self._ring.end()
            return
        text = message or f"session closed: {reason}"
        self._ring.end(lambda: SessionClosed(text, reason=reason))

    # -- consumer side -------------------------------------------------------------------

    def __aiter__(self) -> FrameStream[F]:
        return self

    async def __anext__(self) -> F:
        while not self._pending:
            frame = await self._ring.get()
            if self._transform is None:
                return frame
            self._pending.extend(self._transform(frame))
        return self._pending.popleft()

    async def ndarrays(self, format: str | None = None) -> AsyncIterator[Any]:
        """Iterate the frames as numpy arrays (``frame.to_ndarray(format=...)``; needs numpy).

        For video, ``format`` is a pixel format such as ``"rgb24"`` (default) or ``"bgr24"``;
        for audio it is ignored (use `Session.audio` with ``format=`` to convert). The
        conversion runs in a worker thread, off the event loop.
        """
        async for frame in self:
            yield await asyncio.to_thread(_to_ndarray, frame, format)

    def close(self) -> None:
        """Unsubscribe: drop queued frames and end iteration quietly."""
        self._ring.clear()
        self._pending.clear()
        self.end()
        if self._on_close is not None:
            callback, self._on_close = self._on_close, None
            callback(self)

    async def aclose(self) -> None:
        """Same as `close` (for ``contextlib.aclosing``)."""
        self.close()

    async def __aenter__(self) -> FrameStream[F]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def audio_resampler(
    sample_rate: int | None, layout: str | None, format: str | None
) -> Transform | None:
    """A transform that resamples audio frames with `av.AudioResampler`, or None."""
    if sample_rate is None and layout is None and format is None:
        return None
    import av

    resampler = av.AudioResampler(format=format, layout=layout, rate=sample_rate)

    def transform(frame: av.AudioFrame) -> list[av.AudioFrame]:
        return list(resampler.resample(frame))

    return transform


class Subscriber(Protocol):
    """What a `FrameFanout` feeds: a `FrameStream`, or the recorder's own queue."""

    @property
    def dropped(self) -> int:
        """Frames discarded so far."""

    def put(self, frame: Any) -> None:
        """Take a frame; never blocks."""

    def end(self, *, reason: str | None = None, message: str = "") -> None:
        """No more frames (abnormally when ``reason`` is given)."""


class FrameFanout:
    """One track's frames handed to every subscribed `FrameStream` (the same objects).

    Also keeps the counters the session reports: frames seen, first/last frame time, a
    short window for the frame rate. With ``replay_latest`` a new subscriber starts with the
    most recent frame (the picture currently shown) instead of waiting for the next one.
    """

    def __init__(
        self,
        kind: str,
        on_first_frame: Callable[[str], None] | None = None,
        *,
        replay_latest: bool = False,
    ) -> None:
        self.kind = kind
        self._on_first_frame = on_first_frame
        self._replay_latest = replay_latest
        self._latest: Any = None
        self.frames = 0
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.first_frame = asyncio.Event()
        self._times: collections.deque[float] = collections.deque(maxlen=64)
        self._streams: list[Subscriber] = []
        self._retired_dropped = 0
        self._ended = False
        self._end_reason: str | None = None
        self._end_message = ""

    @property
    def ended(self) -> bool:
        """True once the fan-out was ended (session closed)."""
        return self._ended

    @property
    def streams(self) -> tuple[Subscriber, ...]:
        """The live subscriber streams."""
        return tuple(self._streams)

    def subscribe(
        self,
        capacity: int,
        transform: Transform | None = None,
        *,
        max_bytes: int | None = None,
    ) -> FrameStream[Any]:
        """A new stream receiving every frame from now on (see `FrameStream` for the budgets).

        With ``replay_latest`` it starts with the most recent frame.
        """
        stream: FrameStream[Any] = FrameStream(
            self.kind,
            capacity,
            max_bytes=max_bytes,
            transform=transform,
            on_close=self.detach,
        )
        self.attach(stream)
        return stream

    def attach(self, stream: Subscriber, *, replay: bool = True) -> None:
        """Feed ``stream`` every frame from now on (ended at once if the fan-out has ended)."""
        if self._ended:
            stream.end(reason=self._end_reason, message=self._end_message)
            return
        if replay and self._latest is not None:
            stream.put(self._latest)
        self._streams.append(stream)

    def detach(self, stream: Subscriber) -> None:
        """Stop feeding ``stream`` (its drop count stays in `dropped`)."""
        if stream in self._streams:
            self._streams.remove(stream)
            self._retired_dropped += stream.dropped

    @property
    def dropped(self) -> int:
        """Frames dropped by all streams of this track so far (slow readers)."""
        return self._retired_dropped + sum(s.dropped for s in self._streams)

    def publish(self, frame: Any) -> None:
        """Hand a frame to every subscriber (never blocks)."""
        if self._ended:
            return
        now = time.monotonic()
        self.frames += 1
        self.last_frame_at = now
        self._times.append(now)
        if self.first_frame_at is None:
            self.first_frame_at = now
            self.first_frame.set()
            if self._on_first_frame is not None:
                self._on_first_frame(self.kind)
        if self._replay_latest:
            self._latest = frame
        for stream in self._streams:
            stream.put(frame)

    def fps(self) -> float:
        """Frames per second over the last ~2 s (0.0 when idle)."""
        now = time.monotonic()
        recent = [t for t in self._times if now - t <= 2.0]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0

    def end(self, *, reason: str | None = None, message: str = "") -> None:
        """End every stream (quietly when ``reason`` is None) and refuse new frames."""
        if self._ended:
            return
        self._ended = True
        self._latest = None
        self._end_reason = reason
        self._end_message = message
        for stream in self._streams:
            stream.end(reason=reason, message=message)


async def pump_track(
    track: Any, fanout: FrameFanout, on_end: Callable[[str, BaseException | None], None]
) -> None:
    """Read ``track`` until it ends, publishing every frame; then call ``on_end(kind, error)``.

    ``error`` is None when the track ended (``MediaStreamError``), else the unexpected error.
    Cancellation ends the pump silently.
    """
    from aiortc.mediastreams import MediaStreamError

    error: BaseException | None = None
    try:
        while True:
            frame = await track.recv()
            fanout.publish(frame)
    except MediaStreamError:
        pass
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # aiortc/av internals: report, never a bare traceback
        logger.debug("%s track pump failed: %r", fanout.kind, exc)
        error = exc
    on_end(fanout.kind, error)
