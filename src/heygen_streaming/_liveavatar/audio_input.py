"""Any audio the user hands over, as PCM in the one format a destination takes.

LITE wants PCM s16le mono 24 kHz and gives no error for anything else (the lips just go
wrong), and FULL's microphone track takes s16 mono 48 kHz; so every input goes through
PyAV's resampler to the destination's format:

- ``bytes`` (or a bytearray / memoryview): interleaved s16le PCM; ``sample_rate=`` is
  required, ``channels=`` defaults to 1;
- a numpy array: int16, or float in [-1, 1]; shape ``(n,)`` or ``(n, channels)``;
  ``sample_rate=`` required;
- a path (``str`` / ``os.PathLike``): any file PyAV opens (WAV, MP3, ...), decoded in a
  worker thread;
- an ``av.AudioFrame`` (its own rate, layout and format);
- an iterable or async iterable of the above (bytes, arrays or frames; not paths): a
  stream, converted piece by piece as it arrives.

PCM already in the destination's format is passed through without PyAV.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import av
import numpy as np

from .._errors import ConfigurationError

__all__ = ["AudioSource", "pcm_stream"]

AudioSource = Any
"""What `pcm_stream` accepts (see the module docstring)."""

_LAYOUT = {1: "mono", 2: "stereo"}
FILE_BLOCK = 50
"""Decoded frames handed over per worker-thread call when reading a file."""


class _Converter:
    """Items of one stream to destination PCM bytes (keeps a partial sample and the
    resampler's state between items)."""

    def __init__(self, rate: int, sample_rate: int | None, channels: int) -> None:
        self.rate = rate
        self.sample_rate = sample_rate
        self.channels = channels
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        self._carry = b""

    def _need_rate(self, what: str) -> int:
        if self.sample_rate is None:
            raise ConfigurationError(
                f"{what} needs sample_rate= (its samples per second, e.g. 24000); "
                "a wrong rate would make the avatar's lips go wrong without any error"
            )
        return self.sample_rate

    def _frames(self, frame: av.AudioFrame | None) -> bytes:
        return b"".join(out.to_ndarray().tobytes() for out in self._resampler.resample(frame))

    def item(self, item: Any) -> bytes:
        """One piece of input as destination PCM (may be empty while the resampler fills)."""
        if isinstance(item, av.AudioFrame):
            item.pts = None
            return self._frames(item)
        if isinstance(item, bytes | bytearray | memoryview):
            return self._pcm(bytes(item))
        if isinstance(item, np.ndarray):
            return self._array(item)
        raise ConfigurationError(
            f"cannot speak a {type(item).__name__}: give bytes (s16le PCM), a numpy array, "
            "an av.AudioFrame, a file path, or an (async) iterable of those"
        )

    def _pcm(self, data: bytes) -> bytes:
        rate = self._need_rate("raw PCM")
        data = self._carry + data
        width = 2 * self.channels
        usable = len(data) - len(data) % width
        data, self._carry = data[:usable], data[usable:]
        if not data:
            return b""
        if rate == self.rate and self.channels == 1:
            return data  # already the destination's format
        samples = np.frombuffer(data, dtype="<i2").reshape(1, -1)
        return self._frames(self._frame(samples, "s16", rate))

    def _array(self, array: np.ndarray) -> bytes:
        rate = self._need_rate("a numpy array")
        if array.ndim == 1:
            channels = 1
        elif array.ndim == 2 and array.shape[1] in _LAYOUT:
            channels = array.shape[1]
        else:
            raise ConfigurationError("a numpy array must be shaped (samples,) or (samples, 1|2)")
        if array.dtype == np.int16:
            fmt, data = "s16", np.ascontiguousarray(array, dtype=np.int16)
        elif array.dtype.kind == "f":
            fmt, data = "flt", np.ascontiguousarray(np.clip(array, -1.0, 1.0), dtype=np.float32)
        else:
            raise ConfigurationError(f"numpy audio must be int16 or float, not {array.dtype}")
        if fmt == "s16" and channels == 1 and rate == self.rate:
            return data.tobytes()
        return self._frames(self._frame(data.reshape(1, -1), fmt, rate, channels))

    def _frame(
        self, samples: np.ndarray, fmt: str, rate: int, channels: int | None = None
    ) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(
            samples, format=fmt, layout=_LAYOUT[channels or self.channels]
        )
        frame.sample_rate = rate
        return frame

    def flush(self) -> bytes:
        """What the resampler still holds, at the end of the stream."""
        return self._frames(None)


def _check_channels(channels: Any) -> int:
    if channels not in _LAYOUT:
        raise ConfigurationError(f"channels must be 1 or 2, not {channels!r}")
    return int(channels)


def _check_rate(sample_rate: Any) -> int | None:
    if sample_rate is None:
        return None
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, int)
        or not (4000 <= sample_rate <= 384_000)
    ):
        raise ConfigurationError(f"sample_rate must be a whole number of Hz, not {sample_rate!r}")
    return sample_rate


async def pcm_stream(
    source: AudioSource,
    *,
    rate: int,
    sample_rate: int | None = None,
    channels: int = 1,
) -> AsyncIterator[bytes]:
    """``source`` as s16le mono PCM at ``rate`` Hz, piece by piece (see the module docstring)."""
    converter = _Converter(rate, _check_rate(sample_rate), _check_channels(channels))
    if isinstance(source, str | os.PathLike):
        async for pcm in _file(source, rate):
            yield pcm
        return
    if isinstance(source, bytes | bytearray | memoryview | np.ndarray | av.AudioFrame):
        items: AsyncIterable[Any] | Iterable[Any] = [source]
        if isinstance(source, bytes | bytearray | memoryview):
            items = _slices(bytes(source), converter)
    elif isinstance(source, AsyncIterable | Iterable):
        items = source
    else:
        converter.item(source)  # raises, naming what is accepted
        return
    if isinstance(items, AsyncIterable):
        async for item in items:
            if pcm := converter.item(item):
                yield pcm
    else:
        for item in items:
            if pcm := converter.item(item):
                yield pcm
            await asyncio.sleep(0)
    if tail := converter.flush():
        yield tail


def _slices(data: bytes, converter: _Converter) -> list[bytes]:
    """Long PCM in one-second slices (each converted on its own: no long stall)."""
    rate = converter._need_rate("raw PCM")
    step = rate * 2 * converter.channels
    return [data[i : i + step] for i in range(0, len(data), step)] or [b""]


async def _file(path: str | os.PathLike[str], rate: int) -> AsyncIterator[bytes]:
    """A file decoded and resampled in a worker thread, a block of frames at a time."""
    try:
        container = await asyncio.to_thread(av.open, os.fspath(path))
    except (OSError, av.FFmpegError) as exc:
        raise ConfigurationError(f"cannot open audio file {os.fspath(path)!r}: {exc}") from None
    try:
        if not container.streams.audio:
            raise ConfigurationError(f"{os.fspath(path)!r} has no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        frames = container.decode(audio=0)
        done = False

        def block() -> bytes:
            nonlocal done
            out: list[bytes] = []
            for _ in range(FILE_BLOCK):
                if done:
                    break
                frame = next(frames, None)
                done = frame is None
                if frame is not None:
                    frame.pts = None
                for resampled in resampler.resample(frame):
                    out.append(resampled.to_ndarray().tobytes())
            return b"".join(out)

        while not done:
            if pcm := await asyncio.to_thread(block):
                yield pcm
    finally:
        container.close()
