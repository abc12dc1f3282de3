"""The PyAV side of recording: encoders, muxer and audio gap filling, on one worker thread.

`Writer` turns timestamped frames into an MP4 (H.264 + AAC) or WebM (VP8 + Opus) file.
Every method runs on the recorder's worker thread, never on the event loop. Frames it is
given are shared with other readers: it encodes private copies and never changes them.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

__all__ = ["MAX_VIDEO_SIZE", "Writer", "container_codecs", "output_size"]

_VIDEO_TB = Fraction(1, 90_000)
_AUDIO_RATE = 48_000

#: Largest picture recorded; bigger frames are scaled down to fit (the encoder's memory
#: grows with the picture, and a hostile server may send 8K).
MAX_VIDEO_SIZE = (1920, 1080)

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


def output_size(width: int, height: int) -> tuple[int, int]:
    """The recorded size for a first frame of ``width`` x ``height``: even, within the cap."""
    max_w, max_h = MAX_VIDEO_SIZE
    scale = min(1.0, max_w / max(width, 1), max_h / max(height, 1))
    width, height = round(width * scale), round(height * scale)
    return max(2, width - width % 2), max(2, height - height % 2)


def _private_video(frame: Any, width: int, height: int) -> Any:
    """``frame`` as yuv420p at ``width`` x ``height``, always a new frame object.

    `VideoFrame.reformat` returns the frame itself when nothing changes; the caller sets
    ``pts`` on the result, which must never reach the frame other readers share.
    """
    out = frame.reformat(width=width, height=height, format="yuv420p")
    if out is frame:
        # one copy: the new frame wraps the array (5x cheaper than from_ndarray at 720p)
        out = av.VideoFrame.from_numpy_buffer(frame.to_ndarray(), format="yuv420p")
    return out


def _copy_audio(frame: Any) -> Any:
    """A new audio frame with the samples of ``frame`` (no timestamp)."""
    copy = av.AudioFrame.from_ndarray(
        frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
    )
    copy.sample_rate = frame.sample_rate
    return copy


class Writer:
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
            width, height = output_size(first_video.width, first_video.height)
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
