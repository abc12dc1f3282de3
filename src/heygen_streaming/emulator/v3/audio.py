"""User audio for ``audio`` mode: loopback-only fetching and decoding with PyAV.

`AudioClip` is the decoded audio (48 kHz mono); its ``level_gain`` scales its loudness so
that the mouth opens like it does for speech. The emulator never fetches a non-loopback
address: such a URL (like an ``asset_id``) ends the stream in ``error``.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import av
import numpy as np

from .voice import SAMPLE_RATE, SPEECH_LEVEL, Samples, SpokenWord
from .wire import AssetAudio, Base64Audio, UrlAudio

__all__ = ["AudioClip", "decode_audio", "fetch_loopback", "is_loopback_url", "load_audio"]

MAX_AUDIO_SECONDS = 3600.0
MAX_FETCH_BYTES = 64 << 20
FETCH_TIMEOUT = 20.0


def is_loopback_url(url: str) -> bool:
    """True for an http(s) URL whose host is a loopback address or ``localhost``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_loopback(url: str) -> bytes:
    """GET ``url`` if it is a loopback URL; ValueError otherwise or on failure."""
    if not is_loopback_url(url):
        raise ValueError("the emulator only fetches loopback (127.0.0.1/localhost) URLs")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise ValueError(f"fetching the audio URL answered HTTP {response.status}")
            data = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > MAX_FETCH_BYTES:
                    raise ValueError("the audio file is too large")
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ValueError(f"fetching the audio URL failed ({type(exc).__name__})") from None


async def load_audio(
    source: UrlAudio | AssetAudio | Base64Audio, data: bytes | None, max_seconds: float
) -> AudioClip:
    """The clip for an ``audio`` body (``data``: already decoded base64); ValueError if unusable."""
    if isinstance(source, AssetAudio):
        raise ValueError(f"unknown asset_id {source.asset_id!r} (the emulator has no assets)")
    if data is None:
        if not isinstance(source, UrlAudio):
            raise ValueError("no audio data")
        data = await fetch_loopback(source.url)
    return await asyncio.to_thread(decode_audio, io.BytesIO(data), max_seconds)


class AudioClip:
    """Decoded user audio (48 kHz mono float)."""

    def __init__(self, samples: Samples) -> None:
        self._samples = samples
        # Loud parts of the clip open the mouth fully, like speech does.
        windows = samples[: samples.size // 1920 * 1920].reshape(-1, 1920)
        rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1)) if windows.size else []
        loud = float(np.percentile(rms, 90)) if len(rms) else 0.0
        self.level_gain = SPEECH_LEVEL * 1.2 / loud if loud > 1e-4 else 1.0

    @property
    def total(self) -> int:
        """Length in samples."""
        return int(self._samples.size)

    def words(self) -> list[SpokenWord]:
        """No words: the emulator does not transcribe audio."""
        return []

    def take(self, start: int, count: int) -> Samples:
        """Samples [start, start + count) (zero-padded)."""
        out = np.zeros(count, np.float32)
        part = self._samples[start : start + count]
        out[: part.size] = part
        return out


def decode_audio(source: Any, max_seconds: float = MAX_AUDIO_SECONDS) -> AudioClip:
    """Decode a file path or file-like object with PyAV into an `AudioClip`.

    Raises ValueError when there is no decodable audio.
    """
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[Samples] = []
    size = 0
    try:
        with av.open(source, "r") as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
                    size += chunks[-1].size
                if size >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
    except av.FFmpegError as exc:
        raise ValueError(f"cannot decode audio ({type(exc).__name__})") from None
    samples = np.concatenate(chunks)[:limit] if chunks else np.zeros(0, np.float32)
    if not samples.size:
        raise ValueError("no audio samples")
    return AudioClip(samples)
