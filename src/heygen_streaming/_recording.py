"""Record a session's audio and video to MP4 (H.264 + AAC) or WebM (VP8 + Opus) with PyAV.

The recorder subscribes its own bounded streams (frames and bytes), so a slow disk or
encoder drops frames (counted) instead of stalling the session or using unbounded memory.
Encoding, muxing and the final flush run on one worker thread, off the event loop, on
private copies: frames are shared with other readers and are never changed.

Timestamps come from each frame's RTP time (``pts``), anchored when its track's first frame
reached the recorder, so audio and video stay in sync and gaps (lost audio) become silence
instead of shifting what follows. A timestamp that jumps more than `RESYNC_AFTER` seconds
away from the wall clock re-anchors its track instead of opening a hole or an overlap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ._errors import SessionClosed
from ._media import FrameFanout, FrameStream
from ._ring import check_capacity, check_max_bytes

__all__ = [
    "RECORDER_AUDIO_MAX_BYTES",
    "RECORDER_VIDEO_MAX_BYTES",
    "Recorder",
    "RecordingInfo",
    "container_codecs",
]

logger = logging.getLogger("heygen_streaming")

_VIDEO_TB = Fraction(1, 90_000)
_AUDIO_RATE = 48_000

#: Default byte budget of the recorder's pending video frames (46 frames of 720p).
RECORDER_VIDEO_MAX_BYTES = 64 * 1024 * 1024
#: Default byte budget of the recorder's pending audio frames (over 20 s of 48 kHz stereo s16).
RECORDER_AUDIO_MAX_BYTES = 4 * 1024 * 1024
#: Seconds a track's media time may run ahead of the wall clock (or back) before re-anchoring.
RESYNC_AFTER = 0.5

# extension -> (video codec, audio codec, video options)
_FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    ".mp4": ("libx264", "aac", {"preset": "veryfast", "crf": "23"}),
    ".m4v": ("libx264", "aac", {"preset": "veryfast", "crf": "23"}),
    ".mov": ("libx264", "aac", {"preset": "veryfast", "crf": "23"}),
    ".mkv": ("libx264", "aac", {"preset": "veryfast", "crf": "23"}),
    ".webm": ("libvpx", "libopus", {"deadline": "realtime", "cpu-used": "8", "b": "1500000"}),
}


def container_codecs(path: str | os.PathLike[str]) -> tuple[str, str, dict[str, str]]:
    """``(video codec, audio codec, video options)`` for a file name, by its extension."""
    suffix = Path(path).suffix.lower()
    try:
        return _FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"cannot record to {suffix or 'a file without extension'!r}: "
            f"use one of {', '.join(sorted(_FORMATS))}"
        ) from None


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


def _private_video(frame: Any, width: int, height: int) -> Any:
    """``frame`` as yuv420p at ``width`` x ``height``, always a new frame object.

    `VideoFrame.reformat` returns the frame itself when nothing changes; the caller sets
    ``pts`` on the result, which must never reach the frame other readers share.
    """
    out = frame.reformat(width=width, height=height, format="yuv420p")
    if out is frame:
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
    return out


def _copy_audio(frame: Any) -> Any:
    """A new audio frame with the samples of ``frame`` (no timestamp)."""
    copy = av.AudioFrame.from_ndarray(
        frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
    )
    copy.sample_rate = frame.sample_rate
    return copy


class _Writer:
    """The PyAV side; every method runs on the recorder's single worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.video_codec, self.audio_codec, self.video_options = container_codecs(path)
        self.container: Any = None
        self.vstream: Any = None
        self.astream: Any = None
        self.fifo: Any = None
        self.resampler: Any = None
        self.pending_audio: list[tuple[Any, float]] = []
        self.last_vpts = -1
        self.last_vt: float | None = None
        self.video_end = 0.0
        self.samples_written = 0
        self.video_frames = 0
        self.audio_frames = 0

    @property
    def duration(self) -> float:
        """Seconds written so far: the end of the longer stream (the file starts at 0)."""
        return max(self.video_end, self.samples_written / _AUDIO_RATE)

    def _open(self, first_video: Any | None) -> None:
        self.container = av.open(str(self.path), mode="w")
        if first_video is not None:
            width = first_video.width - first_video.width % 2
            height = first_video.height - first_video.height % 2
            vstream = self.container.add_stream(self.video_codec, rate=30)
            vstream.width, vstream.height = width, height
            vstream.pix_fmt = "yuv420p"
            vstream.time_base = _VIDEO_TB
            vstream.codec_context.time_base = _VIDEO_TB
            vstream.options = dict(self.video_options)
            self.vstream = vstream
        astream = self.container.add_stream(self.audio_codec, rate=_AUDIO_RATE)
        astream.layout = "stereo"
        self.astream = astream
        self.fifo = av.AudioFifo()
        audio_format = "fltp" if self.audio_codec == "aac" else "s16"
        astream.format = audio_format
        self.resampler = av.AudioResampler(format=audio_format, layout="stereo", rate=_AUDIO_RATE)
        pending, self.pending_audio = self.pending_audio, []
        for frame, t in pending:
            self.write_audio(frame, t)

    def write_video(self, frame: Any, t: float) -> None:
        if self.container is None:
            self._open(frame)
        if self.vstream is None:
            return
        pts = round(t / _VIDEO_TB)
        if pts <= self.last_vpts:
            pts = self.last_vpts + 1
        self.last_vpts = pts
        out = _private_video(frame, self.vstream.width, self.vstream.height)
        out.pts = pts
        out.time_base = _VIDEO_TB
        for packet in self.vstream.encode(out):
            self.container.mux(packet)
        self.video_frames += 1
        # the last frame lasts as long as the one before it (at most 0.1 s)
        interval = min(max(t - self.last_vt, 0.0), 0.1) if self.last_vt is not None else 0.0
        self.last_vt = t
        self.video_end = max(self.video_end, t + interval)

    def write_audio(self, frame: Any, t: float) -> None:
        if self.container is None:
            if len(self.pending_audio) < 500:  # ~10 s before the first video frame
                self.pending_audio.append((frame, t))
            return
        expected = round(t * _AUDIO_RATE)
        queued = self.samples_written + self.fifo.samples
        gap = expected - queued
        if gap > frame.samples:  # lost or late audio: fill with silence to stay in sync
            self._silence(gap)
        for out in self.resampler.resample(frame):
            if out is frame:  # a pass-through resampler hands back the shared frame
                out = _copy_audio(frame)
            out.pts = None
            self.fifo.write(out)
        self._drain_audio(final=False)
        self.audio_frames += 1

    def _silence(self, samples: int) -> None:
        fmt = "fltp" if self.audio_codec == "aac" else "s16"
        silence = av.AudioFrame(format=fmt, layout="stereo", samples=samples)
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        silence.sample_rate = _AUDIO_RATE
        silence.pts = None
        self.fifo.write(silence)

    def _drain_audio(self, *, final: bool) -> None:
        size = self.astream.codec_context.frame_size or 960
        while self.fifo.samples >= size or (final and self.fifo.samples > 0):
            chunk = self.fifo.read(min(size, self.fifo.samples))
            chunk.pts = self.samples_written
            chunk.time_base = Fraction(1, _AUDIO_RATE)
            chunk.sample_rate = _AUDIO_RATE
            self.samples_written += chunk.samples
            for packet in self.astream.encode(chunk):
                self.container.mux(packet)

    def finish(self) -> None:
        if self.container is None:
            if not self.pending_audio:
                return
            self._open(None)
        try:
            if self.fifo is not None and self.astream is not None:
                if self.audio_codec != "aac":
                    size = self.astream.codec_context.frame_size or 960
                    pad = (-self.fifo.samples) % size
                    if pad:
                        self._silence(pad)
                self._drain_audio(final=True)
                for packet in self.astream.encode(None):
                    self.container.mux(packet)
            if self.vstream is not None:
                for packet in self.vstream.encode(None):
                    self.container.mux(packet)
        finally:
            self.container.close()


class Recorder:
    """Records two fan-outs (video, audio) into one file until `stop`.

    ``*_capacity`` and ``*_max_bytes`` bound the frames waiting for the encoder; when it
    falls behind, the oldest are dropped and counted in `RecordingInfo`.
    """

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
        self._writer = _Writer(self.path)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: list[FrameStream[Any]] = []
        self._started_at = 0.0
        self._anchors: dict[str, tuple[float, float]] = {}
        self._last: dict[str, float] = {}
        self._error: BaseException | None = None
        self._stopping: asyncio.Task[RecordingInfo] | None = None
        self.info: RecordingInfo | None = None

    def start(self) -> None:
        """Subscribe to both tracks and start encoding."""
        if self._executor is not None:
            raise RuntimeError("recorder already started")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="heygen-recorder"
        )
        self._started_at = time.monotonic()
        for fanout, (capacity, max_bytes) in zip(self._fanouts, self._budgets, strict=True):
            # no replayed frame: its media time predates the recording and would skew the anchor
            stream = fanout.subscribe(capacity, max_bytes=max_bytes, replay=False)
            self._streams.append(stream)
            self._tasks.append(asyncio.ensure_future(self._consume(stream)))

    def _time(self, kind: str, frame: Any) -> float:
        """Seconds since the start of the recording at which ``frame`` belongs."""
        now = time.monotonic() - self._started_at
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

    async def _consume(self, stream: FrameStream[Any]) -> None:
        loop = asyncio.get_running_loop()
        write = self._writer.write_video if stream.kind == "video" else self._writer.write_audio
        try:
            async for frame in stream:
                t = self._time(stream.kind, frame)
                if t < 0:
                    continue
                await loop.run_in_executor(self._executor, write, frame, t)
        except SessionClosed:
            pass  # the session died: finish the file with what we have
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
            video_dropped=video.dropped if video else 0,
            audio_dropped=audio.dropped if audio else 0,
        )
        if self._error is not None:
            raise OSError(f"recording to {self.path} failed: {self._error}") from self._error
        return self.info


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a stop task's exception as seen when nobody awaits it any more."""
    if not task.cancelled():
        task.exception()
