"""A live HLS writer: H.264 + AAC in fMP4 segments and an EVENT playlist, via PyAV.

ffmpeg's ``hls`` muxer writes ``init.mp4`` (EXT-X-MAP), ``seg00000.m4s``, ... and
``stream.m3u8`` into one directory; with ``temp_file`` each file appears by an atomic
rename, so the server never serves a half-written file. fMP4 (not MPEG-TS) because
Chromium has no native HLS: its Media Source Extensions take fMP4 fragments as they are,
and PyAV/ffmpeg read the same playlist. Closing the writer appends ``#EXT-X-ENDLIST``.
"""

from __future__ import annotations

import fractions
import os
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from .frames import FPS, HEIGHT, WIDTH
from .voice import SAMPLE_RATE

__all__ = ["AAC_FRAME", "FPS", "PLAYLIST", "HlsWriter", "fix_playlist", "is_servable"]

AAC_FRAME = 1024
PLAYLIST = "stream.m3u8"
INIT = "init.mp4"


def fix_playlist(text: str) -> str:
    """Raise ``EXT-X-TARGETDURATION`` to at least 1 (ffmpeg rounds sub-second segments to 0)."""
    return text.replace("#EXT-X-TARGETDURATION:0\n", "#EXT-X-TARGETDURATION:1\n")


def is_servable(name: str) -> bool:
    """True for the names the writer produces (never a temp file or another path)."""
    if name in (PLAYLIST, INIT):
        return True
    return (
        len(name) == 12 and name.startswith("seg") and name.endswith(".m4s") and name[3:8].isdigit()
    )


class HlsWriter:
    """Encode frames and audio into a live HLS playlist in ``directory`` (one thread)."""

    def __init__(self, directory: Path, *, segment_seconds: float = 1.0) -> None:
        self.directory = directory
        self.playlist = directory / PLAYLIST
        gop = max(1, round(segment_seconds * FPS))
        self._container: Any = av.open(
            str(self.playlist),
            "w",
            format="hls",
            options={
                "hls_time": f"{gop / FPS:g}",
                "hls_list_size": "0",
                "hls_segment_type": "fmp4",
                "hls_fmp4_init_filename": INIT,
                "hls_segment_filename": os.path.join(str(directory), "seg%05d.m4s"),
                "hls_flags": "independent_segments+temp_file",
                "hls_playlist_type": "event",
            },
        )
        video: Any = self._container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.gop_size = gop
        video.codec_context.thread_count = 1
        video.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "crf": "26",
        }
        audio: Any = self._container.add_stream("aac", rate=SAMPLE_RATE)
        audio.codec_context.layout = "mono"
        audio.codec_context.bit_rate = 64_000
        self._video = video
        self._audio = audio
        self._pending = np.zeros(0, np.float32)
        self._audio_pts = 0
        self.frames = 0
        self.closed = False

    def write(self, frame: av.VideoFrame, audio: npt.NDArray[np.float32]) -> None:
        """Mux one video frame (next index) and the audio that goes with it."""
        frame.pts = self.frames
        frame.time_base = fractions.Fraction(1, FPS)
        self.frames += 1
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self._pending = np.concatenate((self._pending, audio))
        while self._pending.size >= AAC_FRAME:
            chunk, self._pending = self._pending[:AAC_FRAME], self._pending[AAC_FRAME:]
            self._encode_audio(chunk)

    def _encode_audio(self, chunk: npt.NDArray[np.float32]) -> None:
        block = np.ascontiguousarray(chunk.reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._audio_pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._audio_pts += chunk.size
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    @property
    def started(self) -> bool:
        """True once the playlist lists a first segment."""
        return self.playlist.exists()

    def close(self) -> None:
        """Flush the encoders and finish the playlist (``#EXT-X-ENDLIST``)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.frames:
                if self._pending.size:
                    padded = np.zeros(AAC_FRAME, np.float32)
                    padded[: self._pending.size] = self._pending
                    self._encode_audio(padded)
                for stream in (self._video, self._audio):
                    for packet in stream.encode(None):
                        self._container.mux(packet)
        finally:
            self._container.close()
