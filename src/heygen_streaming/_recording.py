"""Record a session's audio and video to MP4 (H.264 + AAC) or WebM (VP8 + Opus) with PyAV.

The recorder subscribes its own bounded streams, so a slow disk or encoder drops frames
(counted) instead of stalling the session. Encoding and muxing run on one worker thread,
off the event loop. Timestamps come from each frame's RTP time (``pts``), anchored at the
moment its track's first frame reached the recorder, so audio and video stay in sync and
gaps (lost audio) become silence instead of shifting what follows.
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

__all__ = ["Recorder", "RecordingInfo", "container_codecs"]

logger = logging.getLogger("heygen_streaming")

_VIDEO_TB = Fraction(1, 90_000)
_AUDIO_RATE = 48_000

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
        duration: media seconds written (last timestamp of either stream).
        video_frames / audio_frames: frames encoded.
        video_dropped / audio_dropped: frames dropped because the encoder fell behind.
    """

    path: Path
    duration: float
    video_frames: int
    audio_frames: int
    video_dropped: int
    audio_dropped: int


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
        self.samples_written = 0
        self.video_frames = 0
        self.audio_frames = 0
        self.duration = 0.0

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
        out = frame.reformat(width=self.vstream.width, height=self.vstream.height, format="yuv420p")
        out.pts = pts
        out.time_base = _VIDEO_TB
        for packet in self.vstream.encode(out):
            self.container.mux(packet)
        self.video_frames += 1
        self.duration = max(self.duration, t)

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
            out.pts = None
            self.fifo.write(out)
        self._drain_audio(final=False)
        self.audio_frames += 1
        self.duration = max(self.duration, t + frame.samples / (frame.sample_rate or _AUDIO_RATE))

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
    """Records two fan-outs (video, audio) into one file until `stop`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        video: FrameFanout,
        audio: FrameFanout,
        *,
        video_capacity: int = 60,
        audio_capacity: int = 250,
    ) -> None:
        self.path = Path(path)
        container_codecs(self.path)  # validate early
        self._fanouts = (video, audio)
        self._capacities = (video_capacity, audio_capacity)
        self._writer = _Writer(self.path)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: list[FrameStream[Any]] = []
        self._started_at = 0.0
        self._anchors: dict[str, tuple[float, float]] = {}
        self._error: BaseException | None = None
        self.info: RecordingInfo | None = None

    def start(self) -> None:
        """Subscribe to both tracks and start encoding."""
        if self._executor is not None:
            raise RuntimeError("recorder already started")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="heygen-recorder"
        )
        self._started_at = time.monotonic()
        for fanout, capacity in zip(self._fanouts, self._capacities, strict=True):
            stream = fanout.subscribe(capacity)
            self._streams.append(stream)
            self._tasks.append(asyncio.ensure_future(self._consume(stream)))

    def _time(self, kind: str, frame: Any) -> float:
        now = time.monotonic() - self._started_at
        if frame.pts is None or frame.time_base is None:
            return now
        media = float(frame.pts * frame.time_base)
        anchor = self._anchors.get(kind)
        if anchor is None:
            self._anchors[kind] = (now, media)
            return now
        return anchor[0] + (media - anchor[1])

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
        """Stop, flush the encoders and close the file; returns what was written."""
        if self.info is not None:
            return self.info
        for stream in self._streams:
            stream.end()  # readers drain what is queued, then stop
        try:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._executor is not None:
                loop = asyncio.get_running_loop()
                await asyncio.shield(loop.run_in_executor(self._executor, self._writer.finish))
        finally:
            for stream in self._streams:
                stream.close()
            if self._executor is not None:
                self._executor.shutdown(wait=True)
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
