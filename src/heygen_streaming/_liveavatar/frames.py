"""LiveKit frames as PyAV frames, without copying the pixels where the format allows.

The official client hands each decoded frame over as a ``bytearray`` it already copied out
of the native buffer. An I420 frame of even size (what the client's decoders produce) is
wrapped as a ``yuv420p`` `av.VideoFrame` over that same buffer (``from_numpy_buffer``:
no copy); any other layout is converted by the client to RGBA, wrapped the same way.
Audio (int16 interleaved, 20 ms) is one small copy into an ``s16`` `av.AudioFrame`.
Timestamps: video ``pts`` in microseconds (the client's ``timestamp_us``), audio ``pts``
in samples; the recorder anchors both on arrival.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from livekit import rtc

__all__ = ["MICROSECONDS", "AudioClock", "audio_frame", "video_frame"]

MICROSECONDS = Fraction(1, 1_000_000)
_I420 = rtc.VideoBufferType.I420
_RGBA = rtc.VideoBufferType.RGBA
_LAYOUTS = {1: "mono", 2: "stereo"}


def video_frame(frame: rtc.VideoFrame, timestamp_us: int) -> av.VideoFrame:
    """``frame`` as an `av.VideoFrame` sharing its buffer (I420 of even size), else RGBA."""
    width, height = frame.width, frame.height
    if frame.type == _I420 and width % 2 == 0 and height % 2 == 0:
        planes = np.frombuffer(frame.data, dtype=np.uint8, count=width * height * 3 // 2)
        out = av.VideoFrame.from_numpy_buffer(planes.reshape(height * 3 // 2, width), "yuv420p")
    else:
        rgba = frame if frame.type == _RGBA else frame.convert(_RGBA)
        pixels = np.frombuffer(rgba.data, dtype=np.uint8, count=width * height * 4)
        out = av.VideoFrame.from_numpy_buffer(pixels.reshape(height, width, 4), "rgba")
    out.pts = timestamp_us
    out.time_base = MICROSECONDS
    return out


class AudioClock:
    """Sample counts of one audio track, for the frames' ``pts``."""

    def __init__(self) -> None:
        self.samples = 0


def audio_frame(frame: rtc.AudioFrame, clock: AudioClock) -> av.AudioFrame:
    """``frame`` (int16 interleaved) as a packed ``s16`` `av.AudioFrame`."""
    channels = frame.num_channels
    count = frame.samples_per_channel * channels
    samples = np.frombuffer(frame.data, dtype=np.int16, count=count).reshape(1, count)
    out = av.AudioFrame.from_ndarray(samples, format="s16", layout=_LAYOUTS.get(channels, "mono"))
    out.sample_rate = frame.sample_rate
    out.pts = clock.samples
    out.time_base = Fraction(1, frame.sample_rate)
    clock.samples += frame.samples_per_channel
    return out
