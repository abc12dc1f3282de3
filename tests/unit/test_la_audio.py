"""LITE audio without a network: any input to PCM s16le mono 24 kHz (PyAV's resampler),
chunking (600 ms, then 1 s, one event_id, under 1 MB a message), pacing at real time after
a head start, streamed input sent as it comes, an interrupt stopping the sender."""

from __future__ import annotations

import asyncio
import base64
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from heygen_streaming import ConfigurationError
from heygen_streaming._liveavatar.audio_input import pcm_stream
from heygen_streaming._liveavatar.lite_sender import (
    BYTES_PER_SECOND,
    MAX_PCM_BYTES,
    LiteSender,
    Pacing,
)

RATE = 24_000


async def collect(source: Any, **kwargs: Any) -> bytes:
    return b"".join([piece async for piece in pcm_stream(source, rate=RATE, **kwargs)])


def sine(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.sin(2 * np.pi * freq * t).astype(np.float32) * 0.5


def dominant(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * RATE / len(samples))


async def test_native_pcm_passes_through_untouched() -> None:
    pcm = (sine(0.5, RATE) * 32767).astype("<i2").tobytes()
    assert await collect(pcm, sample_rate=RATE) == pcm


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (16000, 1), (44100, 2), (8000, 1)])
async def test_any_rate_and_channels_become_24k_mono(rate: int, channels: int) -> None:
    mono = (sine(1.0, rate) * 32767).astype("<i2")
    pcm = np.repeat(mono[:, None], channels, axis=1).tobytes()
    out = await collect(pcm, sample_rate=rate, channels=channels)
    assert abs(len(out) / 2 - RATE) < RATE * 0.02  # one second of 24 kHz samples
    assert dominant(out) == pytest.approx(440, abs=5)


async def test_numpy_float_frames_files_and_streams(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(32000)
        stereo = np.repeat((sine(0.5, 32000) * 32767).astype("<i2")[:, None], 2, axis=1)
        out.writeframes(stereo.tobytes())
    frame = av.AudioFrame.from_ndarray(
        (sine(0.5, 48000)[None, :] * 32767).astype(np.int16), format="s16", layout="mono"
    )
    frame.sample_rate = 48000

    async def stream() -> AsyncIterator[bytes]:
        mono = (sine(0.5, 16000) * 32767).astype("<i2").tobytes()
        for i in range(0, len(mono), 333):  # odd sizes: samples split across pieces
            yield mono[i : i + 333]

    lengths = [
        len(await collect(sine(0.5, 16000), sample_rate=16000)),
        len(await collect(frame)),
        len(await collect(wav)),
        len(await collect(stream(), sample_rate=16000)),
        len(await collect(iter([sine(0.25, 8000), sine(0.25, 8000)]), sample_rate=8000)),
    ]
    for length in lengths:
        assert abs(length / 2 - RATE / 2) < RATE * 0.02, lengths


@pytest.mark.parametrize(
    ("source", "kwargs", "match"),
    [
        (b"\0\0" * 100, {}, "sample_rate"),
        (np.zeros(100), {}, "sample_rate"),
        (np.zeros((100, 3)), {"sample_rate": 8000}, "shaped"),
        (np.zeros(100, dtype=np.int32), {"sample_rate": 8000}, "int16 or float"),
        (b"\0\0", {"sample_rate": 8000, "channels": 3}, "channels"),
        (b"\0\0", {"sample_rate": 7}, "sample_rate"),
        (12345, {}, "cannot speak"),
        ("/no/such/file.wav", {}, "cannot open"),
    ],
)
async def test_bad_input_is_refused_with_why(
    source: Any, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        await collect(source, **kwargs)


def test_pacing_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="first_chunk"):
        Pacing(first_chunk=0)
    with pytest.raises(ConfigurationError, match="chunk"):
        Pacing(chunk=30.0)  # over 1 MB a message
    with pytest.raises(ConfigurationError, match="head_start"):
        Pacing(head_start=-1)


class Recorder:
    """What the sender sent, and when (monotonic)."""

    def __init__(self, notify_after: int = 0) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.reached = asyncio.Event()
        self._after = notify_after

    async def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append((time.monotonic(), message))
        if len(self.sent) == self._after:
            self.reached.set()

    def speaks(self) -> list[tuple[float, float]]:
        """(time, seconds of audio) of each agent.speak."""
        return [
            (t, len(base64.b64decode(m["audio"])) / BYTES_PER_SECOND)
            for t, m in self.sent
            if m["type"] == "agent.speak"
        ]


def pcm(seconds: float) -> bytes:
    return (sine(seconds, RATE) * 32767).astype("<i2").tobytes()


async def pieces(data: bytes, size: int = 9600) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.timeout(20)
async def test_chunks_one_id_speak_end_and_real_time_pacing() -> None:
    sent = Recorder()
    sender = LiteSender(sent)
    pacing = Pacing(head_start=1.0)
    t0 = time.monotonic()
    total = await sender.speak(pieces(pcm(4.0)), "utt-1", pacing)
    took = time.monotonic() - t0
    speaks = sent.speaks()
    assert total == pytest.approx(4.0)
    assert [round(s, 3) for _, s in speaks] == [0.6, 1.0, 1.0, 1.0, 0.4]
    assert {m["event_id"] for _, m in sent.sent} == {"utt-1"}
    assert sent.sent[-1][1] == {"type": "agent.speak_end", "event_id": "utt-1"}
    # never more than head_start (+ the chunk being sent) ahead of playback
    first = speaks[0][0]
    audio_before = 0.0
    for at, seconds in speaks:
        assert audio_before - (at - first) <= pacing.head_start + 0.05
        audio_before += seconds
    assert 4.0 - pacing.head_start - 1.0 - 0.2 < took < 4.0  # paced, not flooded
    assert all(len(m.get("audio", "")) < 1_000_000 for _, m in sent.sent)


async def test_huge_chunks_are_split_under_one_megabyte() -> None:
    sent = Recorder()
    await LiteSender(sent).speak(
        pieces(pcm(16.0), size=1 << 20), "big", Pacing(first_chunk=14.0, chunk=14.0, head_start=60)
    )
    assert all(len(base64.b64decode(m["audio"])) <= MAX_PCM_BYTES for _, m in sent.sent[:-1])
    assert sum(s for _, s in sent.speaks()) == pytest.approx(16.0)


@pytest.mark.timeout(20)
async def test_a_slow_stream_is_sent_as_it_comes_without_starving() -> None:
    """100 ms pieces at real time: the first 600 ms go out at once; then what is buffered
    goes out before the audio sent runs out (low water), not after a full second."""
    sent = Recorder()
    piece = pcm(0.1)

    async def tts() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield piece
            await asyncio.sleep(0.1)

    t0 = time.monotonic()
    await LiteSender(sent).speak(tts(), "stream", Pacing())
    speaks = sent.speaks()
    assert speaks[0][1] == pytest.approx(0.6)
    assert 0.45 < speaks[0][0] - t0 < 1.0
    first = speaks[0][0]
    played_until = first  # each message arrives before the audio sent before it ran out
    for at, seconds in speaks:
        assert at <= max(played_until, first) + 0.15, (at - first, played_until - first)
        played_until = max(played_until, at) + seconds
    assert sum(s for _, s in speaks) == pytest.approx(2.0)


async def test_cancelling_stops_at_once_without_speak_end() -> None:
    sent = Recorder(notify_after=3)
    task = asyncio.ensure_future(LiteSender(sent).speak(pieces(pcm(10.0)), "cut", Pacing()))
    await sent.reached.wait()  # 2.6 s sent: the sender now waits for playback
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)  # anything still scheduled would run now
    assert len(sent.sent) == 3
    assert all(m["type"] == "agent.speak" for _, m in sent.sent)
