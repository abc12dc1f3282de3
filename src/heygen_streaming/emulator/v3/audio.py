"""User audio for ``audio`` mode: bounded, incremental decoding with PyAV, and URL fetching.

Tenant audio is decoded one frame at a time, twice: once when the stream is created
(`probe_audio`: it counts the samples and measures the loudness, keeping nothing), then
again while the stream plays (`AudioClip.take`, 40 ms at a time). A stream therefore holds
its compressed input (at most 1 MiB inline; a fetched file stays on disk) and one decoder,
never the decoded audio: 3,600 s of silence in a 0.5 MiB FLAC costs what a short clip does.
Decoding stops with `AudioRejected` beyond `AudioLimits` (duration, decoded bytes, frames),
and only common audio containers are opened (`DEMUXERS`), with FFmpeg's nested file and
network access limited to the input itself.

URLs are fetched only from the hosts an operator allows (`url_allowed`); every failure of a
URL source (refused, HTTP error, timeout, not audio, too long) reads the same
(`URL_UNUSABLE`), so that the answer does not tell a closed port from an open one.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import av
import numpy as np

from .voice import SAMPLE_RATE, SPEECH_LEVEL, Samples, SpokenWord

__all__ = [
    "MAX_FETCH_BYTES",
    "URL_UNUSABLE",
    "AudioClip",
    "AudioLimits",
    "AudioRejected",
    "fetch_audio",
    "probe_audio",
    "url_allowed",
]

logger = logging.getLogger("heygen_streaming.emulator")

MAX_FETCH_BYTES = 16 << 20
"""Largest audio file fetched from a URL (written to the stream's directory, not memory)."""
FETCH_TIMEOUT = 20.0
MAX_DECODED_BYTES = 256 << 20
"""Decoded PCM (before resampling) one pass may produce: 600 s of 48 kHz stereo float is
230 MB. Bounds the work of many-channel, high-rate files."""
MAX_FRAMES = 100_000
"""Decoded frames one pass may produce (30,000 for 600 s of 20 ms Opus): bounds the
per-frame overhead of files made of tiny packets."""
MAX_FRAME_SECONDS = 30.0
"""Longest single decoded frame (codecs use milliseconds): bounds one resampling step."""
DEMUXERS = "wav,w64,aiff,caf,mp3,aac,flac,ogg,matroska,mov"
"""Containers the emulator opens (FFmpeg demuxer names; ``mov`` covers mp4/m4a,
``matroska`` webm/mka). Any other input is not audio, to the emulator."""
_OPEN_OPTIONS = {"format_whitelist": DEMUXERS, "protocol_whitelist": "file"}
URL_UNUSABLE = (
    "the audio URL could not be used (not fetched, not audio, or over the emulator's limits)"
)
_WINDOW = SAMPLE_RATE // 25  # 40 ms: the level of one video frame

Source = bytes | Path


class AudioRejected(ValueError):
    """The audio cannot be used; the message says why (safe to show the tenant)."""


@dataclass(frozen=True)
class AudioLimits:
    """How much decoding one audio input may cause."""

    max_seconds: float
    max_decoded_bytes: int = MAX_DECODED_BYTES
    max_frames: int = MAX_FRAMES


def url_allowed(url: str, hosts: Collection[tuple[str, int | None]]) -> bool:
    """True for an ``http(s)`` URL without credentials whose host is in ``hosts``.

    ``hosts`` holds ``(host, port)`` pairs (lower case, IPv6 without brackets); a ``None``
    port allows every port of that host.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username is not None:
        return False
    port = port or (443 if parts.scheme == "https" else 80)
    return (host, None) in hosts or (host, port) in hosts


async def fetch_audio(url: str, dest: Path, max_bytes: int = MAX_FETCH_BYTES) -> None:
    """GET ``url`` into the file ``dest`` (no redirects, no content decoding, at most
    ``max_bytes``). Any failure raises `AudioRejected` with `URL_UNUSABLE`."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session,
            session.get(
                url, allow_redirects=False, headers={"Accept-Encoding": "identity"}
            ) as response,
        ):
            if response.status != 200:
                raise AudioRejected(URL_UNUSABLE)
            size = 0
            with await asyncio.to_thread(dest.open, "wb") as out:
                async for chunk in response.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise AudioRejected(URL_UNUSABLE)
                    await asyncio.to_thread(out.write, chunk)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        logger.debug("audio URL fetch failed: %s", type(exc).__name__)
        raise AudioRejected(URL_UNUSABLE) from None


def probe_audio(source: Source, limits: AudioLimits) -> AudioClip:
    """Decode ``source`` once, incrementally, to count its samples and measure its level.

    Returns a clip that decodes again as it plays. Raises `AudioRejected` for no audio or
    audio beyond ``limits``. Blocking: run it in a worker thread.
    """
    total = 0
    levels: list[Samples] = []
    rest = np.zeros(0, np.float32)
    for chunk in _decode(source, limits):
        total += chunk.size
        block = np.concatenate([rest, chunk])
        whole = block.size // _WINDOW * _WINDOW
        if whole:
            windows = block[:whole].reshape(-1, _WINDOW).astype(np.float64)
            levels.append(np.sqrt(np.mean(windows**2, axis=1)).astype(np.float32))
        rest = block[whole:]
    if not total:
        raise AudioRejected("no audio samples")
    rms = np.concatenate(levels) if levels else np.zeros(0, np.float32)
    # Loud parts of the clip open the mouth fully, like speech does.
    loud = float(np.percentile(rms, 90)) if rms.size else 0.0
    gain = SPEECH_LEVEL * 1.2 / loud if loud > 1e-4 else 1.0
    return AudioClip(source, total, gain, limits)


class AudioClip:
    """User audio (48 kHz mono float), decoded as the stream's worker takes it.

    ``total`` and ``level_gain`` come from `probe_audio`. `take` is meant to be called
    with consecutive ranges (as the worker does); another start decodes from the beginning
    again. Samples the second decoding cannot produce (it fails) play as silence.
    """

    def __init__(self, source: Source, total: int, level_gain: float, limits: AudioLimits):
        self._source = source
        self._limits = limits
        self._total = total
        self.level_gain = level_gain
        self._chunks: Iterator[Samples] | None = None
        self._pending = np.zeros(0, np.float32)
        self._position = 0  # stream sample index of self._pending[0]

    @property
    def total(self) -> int:
        """Length in samples."""
        return self._total

    def words(self) -> list[SpokenWord]:
        """No words: the emulator does not transcribe audio."""
        return []

    def take(self, start: int, count: int) -> Samples:
        """Samples [start, start + count) (zero-padded past the end)."""
        out = np.zeros(count, np.float32)
        if start >= self._total or count <= 0:
            self._release()
            return out
        if self._chunks is None or start < self._position:
            self._chunks = _decode(self._source, self._limits)
            self._pending, self._position = np.zeros(0, np.float32), 0
        need = start + count - self._position
        parts = [self._pending]
        have = self._pending.size
        while have < need:
            chunk = self._next_chunk()
            if chunk is None:
                break
            parts.append(chunk)
            have += chunk.size
        pending = np.concatenate(parts) if len(parts) > 1 else self._pending
        skip = start - self._position
        part = pending[skip : skip + count]
        out[: part.size] = part
        consumed = min(pending.size, skip + count)
        self._pending, self._position = pending[consumed:], self._position + consumed
        if start + count >= self._total:
            self._release()
        return out

    def _next_chunk(self) -> Samples | None:
        if self._chunks is None:
            return None
        try:
            return next(self._chunks)
        except StopIteration:
            return None
        except AudioRejected as exc:  # decodes differently the second time: silence
            logger.warning("user audio stopped decoding: %s", exc)
            self._release()
            return None

    def _release(self) -> None:
        """Close the decoder (the clip was played)."""
        chunks, self._chunks = self._chunks, None
        if chunks is not None and hasattr(chunks, "close"):
            chunks.close()


def _decode(source: Source, limits: AudioLimits) -> Iterator[Samples]:
    """48 kHz mono float chunks of ``source``, one decoded frame at a time.

    Raises `AudioRejected` when the input is not audio or goes beyond ``limits``.
    """
    frames = 0
    raw = 0
    seconds = 0.0
    produced = 0
    cap = int(limits.max_seconds * SAMPLE_RATE) + _WINDOW  # resampler rounding
    target = str(source) if isinstance(source, Path) else io.BytesIO(source)
    try:
        with av.open(target, "r", options=_OPEN_OPTIONS) as container:
            if not container.streams.audio:
                raise AudioRejected("no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                frames += 1
                raw += sum(plane.buffer_size for plane in frame.planes)
                rate = frame.sample_rate
                length = frame.samples / rate if rate > 0 else float("inf")
                seconds += length
                if length > MAX_FRAME_SECONDS:
                    raise AudioRejected("unsupported audio (a frame longer than 30 s)")
                if seconds > limits.max_seconds + 1e-3:  # (float sums of frame lengths)
                    raise AudioRejected(_too_long(limits))
                if frames > limits.max_frames or raw > limits.max_decoded_bytes:
                    raise AudioRejected(
                        f"the audio decodes to more than {limits.max_frames} frames or"
                        f" {limits.max_decoded_bytes >> 20} MiB (the emulator's limits)"
                    )
                for out in resampler.resample(frame):
                    chunk = np.asarray(out.to_ndarray(), np.float32).reshape(-1)
                    produced += chunk.size
                    if produced > cap:
                        raise AudioRejected(_too_long(limits))
                    yield chunk
            for out in resampler.resample(None):
                chunk = np.asarray(out.to_ndarray(), np.float32).reshape(-1)[: cap - produced]
                produced += chunk.size
                yield chunk
    except AudioRejected:
        raise
    except Exception as exc:  # FFmpeg errors, odd layouts: not usable audio
        raise AudioRejected(f"cannot decode audio ({type(exc).__name__})") from None


def _too_long(limits: AudioLimits) -> str:
    return f"the audio is longer than {limits.max_seconds:g} s (the emulator's limit)"
