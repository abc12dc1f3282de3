"""Record a session's audio and video to MP4 (H.264 + AAC) or WebM (VP8 + Opus) with PyAV.

The recorder feeds from the session's fan-outs through its own queues, bounded in frames
and bytes, so a slow disk or encoder drops frames (counted) instead of stalling the session
or using unbounded memory. Encoding, muxing and the final flush run on one worker thread,
off the event loop, on private copies: frames are shared with other readers and are never
changed.

Timestamps come from each frame's RTP time (``pts``), anchored at the arrival time of its
track's first frame in this recording, so audio and video stay in sync and gaps (lost
audio) become silence instead of shifting what follows. A timestamp that jumps more than
`RESYNC_AFTER` seconds away from the wall clock re-anchors its track instead of opening a
hole or an overlap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ring import RingBuffer, check_capacity, check_max_bytes
from .streams import FrameFanout, frame_nbytes
from .writer import Writer, container_codecs

__all__ = [
    "RECORDER_AUDIO_MAX_BYTES",
    "RECORDER_VIDEO_MAX_BYTES",
    "Recorder",
    "RecordingInfo",
    "container_codecs",
]

logger = logging.getLogger("heygen_streaming")

#: Default byte budget of the recorder's pending video frames (46 frames of 720p).
RECORDER_VIDEO_MAX_BYTES = 64 * 1024 * 1024
#: Default byte budget of the recorder's pending audio frames (over 20 s of 48 kHz stereo s16).
RECORDER_AUDIO_MAX_BYTES = 4 * 1024 * 1024
#: Seconds a track's media time may run ahead of the wall clock (or back) before re-anchoring.
RESYNC_AFTER = 0.5

_clock = time.monotonic  # the recorder's wall clock (tests drive their own)


@dataclass(frozen=True, kw_only=True)
class RecordingInfo:
    """The result of a recording.

    Attributes:
        path: the file written.
        duration: media seconds in the file, from its start to the end of the longer stream.
        video_frames / audio_frames: frames encoded.
        video_dropped / audio_dropped: frames dropped because the encoder fell behind.
    """

    path: Path
    duration: float
    video_frames: int
    audio_frames: int
    video_dropped: int
    audio_dropped: int


class _Feed:
    """The recorder's queue for one track: each frame with its arrival time, bounded."""

    def __init__(self, fanout: FrameFanout, capacity: int, max_bytes: int | None) -> None:
        self.kind = fanout.kind
        self._fanout = fanout
        self._ring: RingBuffer[tuple[float, Any]] = RingBuffer(
            capacity, max_bytes=max_bytes, sizeof=lambda item: frame_nbytes(item[1])
        )

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def nbytes(self) -> int:
        """Decoded bytes waiting for the encoder."""
        return self._ring.nbytes

    @property
    def dropped(self) -> int:
        """Frames dropped because the encoder fell behind."""
        return self._ring.dropped

    def put(self, frame: Any) -> None:
        self._ring.put((_clock(), frame))

    def end(self, *, reason: str | None = None, message: str = "") -> None:
        # the recorder finishes the file with what it has, whatever the reason
        self._ring.end()

    def close(self) -> None:
        self._ring.clear()
        self._ring.end()
        self._fanout.detach(self)

    def __aiter__(self) -> _Feed:
        return self

    async def __anext__(self) -> tuple[float, Any]:
        return await self._ring.get()


class Recorder:
    """Records two fan-outs (video, audio) into one file until `stop`.

    ``*_capacity`` and ``*_max_bytes`` bound the frames waiting for the encoder; when it
    falls behind, the oldest are dropped and counted in `RecordingInfo`.
    """

    info: RecordingInfo | None = None
    """What was written, once `stop` returned (``None`` until then)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        video: FrameFanout,
        audio: FrameFanout,
        *,
        video_capacity: int = 60,
        audio_capacity: int = 250,
        video_max_bytes: int = RECORDER_VIDEO_MAX_BYTES,
        audio_max_bytes: int = RECORDER_AUDIO_MAX_BYTES,
    ) -> None:
        self.path = Path(path)
        container_codecs(self.path)  # validate early
        self._fanouts = (video, audio)
        self._budgets = (
            (check_capacity(video_capacity, "video_capacity"), check_max_bytes(video_max_bytes)),
            (check_capacity(audio_capacity, "audio_capacity"), check_max_bytes(audio_max_bytes)),
        )
        self._writer = Writer(self.path)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: list[_Feed] = []
        self._started_at = 0.0
        self._anchors: dict[str, tuple[float, float]] = {}
        self._last: dict[str, float] = {}
        self._error: BaseException | None = None
        self._stopping: asyncio.Task[RecordingInfo] | None = None
        self.info = None

    def __repr__(self) -> str:
        if self.info is not None:
            state = f"stopped, {self.info.duration:.1f} s"
        elif self._stopping is not None:
            state = "stopping"
        elif self._executor is not None:
            state = "recording"
        else:
            state = "not started"
        frames = f"{self._writer.video_frames} video, {self._writer.audio_frames} audio frames"
        return f"<Recorder {str(self.path)!r} {state}, {frames}>"

    def start(self) -> None:
        """Subscribe to both tracks and start encoding."""
        if self._executor is not None:
            raise RuntimeError("recorder already started")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="heygen-recorder"
        )
        self._started_at = _clock()
        for fanout, (capacity, max_bytes) in zip(self._fanouts, self._budgets, strict=True):
            stream = _Feed(fanout, capacity, max_bytes)
            # no replayed frame: it arrived before the recording, its time would skew the anchor
            fanout.attach(stream, replay=False)
            self._streams.append(stream)
            self._tasks.append(asyncio.ensure_future(self._consume(stream)))

    def _time(self, kind: str, frame: Any, arrived: float) -> float:
        """Seconds since the start of the recording at which ``frame`` belongs."""
        now = arrived - self._started_at
        if frame.pts is None or frame.time_base is None:
            return now
        media = float(frame.pts * frame.time_base)
        anchor = self._anchors.get(kind)
        t = now if anchor is None else anchor[0] + (media - anchor[1])
        last = self._last.get(kind)
        if anchor is not None and (
            t > now + RESYNC_AFTER or (last is not None and t < last - RESYNC_AFTER)
        ):
            logger.debug("recording: %s timestamps jumped by %.3f s; re-anchored", kind, t - now)
            anchor = None
            t = now
        if anchor is None:
            self._anchors[kind] = (now, media)
        self._last[kind] = t
        return t

    async def _consume(self, stream: _Feed) -> None:
        loop = asyncio.get_running_loop()
        write = self._writer.write_video if stream.kind == "video" else self._writer.write_audio
        try:
            async for arrived, frame in stream:
                t = self._time(stream.kind, frame, arrived)
                if t < 0:
                    continue
                await loop.run_in_executor(self._executor, write, frame, t)
        except Exception as exc:
            logger.warning("recording %s failed: %r", stream.kind, exc)
            self._error = exc
            for other in self._streams:
                other.close()

    async def stop(self) -> RecordingInfo:
        """Stop, flush the encoders and close the file; returns what was written.

        The flush runs in the worker thread; cancelling `stop` does not interrupt it (a
        later `stop` returns its result).
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
            self._stopping.add_done_callback(_retrieve)
        return await asyncio.shield(self._stopping)

    async def _stop(self) -> RecordingInfo:
        for stream in self._streams:
            stream.end()  # readers drain what is queued, then stop
        try:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._executor is not None:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._executor, self._writer.finish)
        finally:
            for stream in self._streams:
                stream.close()
            if self._executor is not None:
                self._executor.shutdown(wait=False)  # idle by now; never join on the loop
        video, audio = self._streams if len(self._streams) == 2 else (None, None)
        self.info = RecordingInfo(
            path=self.path,
            duration=self._writer.duration,
            video_frames=self._writer.video_frames,
            audio_frames=self._writer.audio_frames,
            video_dropped=video.dropped if video is not None else 0,
            audio_dropped=audio.dropped if audio is not None else 0,
        )
        if self._error is not None:
            raise OSError(f"recording to {self.path} failed: {self._error}") from self._error
        return self.info


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a stop task's exception as seen when nobody awaits it any more."""
    if not task.cancelled():
        task.exception()
