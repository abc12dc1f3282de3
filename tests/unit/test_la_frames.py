"""LiveKit frames as PyAV frames: an I420 frame is wrapped without copying its pixels (the
measured reason: ~13 µs a frame against ~180 µs at 360p and ~480 µs at 720p for a copy),
RGBA likewise, audio becomes packed s16 with sample-count timestamps.

No call here reaches the livekit client's native runtime (its threads would start in this
thread's network namespace: see tests/liveavatar_sdk/conftest.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from livekit import rtc

from heygen_streaming._liveavatar.frames import AudioClock, audio_frame, video_frame


def test_i420_is_wrapped_not_copied() -> None:
    w, h = 64, 36
    buf = bytearray(np.arange(w * h * 3 // 2, dtype=np.uint8).tobytes())
    frame = video_frame(rtc.VideoFrame(w, h, rtc.VideoBufferType.I420, buf), 123_456)
    assert (frame.width, frame.height, frame.format.name) == (w, h, "yuv420p")
    assert frame.pts == 123_456 and frame.time_base == Fraction(1, 1_000_000)
    luma = np.frombuffer(frame.planes[0], dtype=np.uint8)
    assert np.shares_memory(luma, np.frombuffer(buf, dtype=np.uint8))
    assert bytes(frame.planes[1])[: w // 2] == buf[w * h : w * h + w // 2]  # U follows Y
    rgb = frame.to_ndarray(format="rgb24")
    assert rgb.shape == (h, w, 3)


def test_rgba_is_wrapped_too() -> None:
    w, h = 8, 4
    buf = bytearray(range(w * h * 4))
    frame = video_frame(rtc.VideoFrame(w, h, rtc.VideoBufferType.RGBA, buf), 0)
    assert frame.format.name == "rgba"
    assert np.shares_memory(
        np.frombuffer(frame.planes[0], dtype=np.uint8), np.frombuffer(buf, dtype=np.uint8)
    )


def test_audio_is_packed_s16_with_sample_timestamps() -> None:
    clock = AudioClock()
    samples = (np.arange(960) - 480).astype(np.int16)
    first = audio_frame(rtc.AudioFrame(samples.tobytes(), 48000, 1, 960), clock)
    second = audio_frame(rtc.AudioFrame(samples.tobytes(), 48000, 1, 960), clock)
    assert (first.format.name, first.layout.name, first.sample_rate) == ("s16", "mono", 48000)
    assert (first.pts, second.pts) == (0, 960) and first.time_base == Fraction(1, 48000)
    assert np.array_equal(first.to_ndarray().reshape(-1), samples)
    stereo = audio_frame(rtc.AudioFrame(np.zeros(1920, np.int16).tobytes(), 48000, 2, 960), clock)
    assert stereo.layout.name == "stereo" and stereo.samples == 960
