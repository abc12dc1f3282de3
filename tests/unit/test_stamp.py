"""Frame stamps survive a real low-bitrate VP8 / H.264 round trip."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs import get_decoder, get_encoder
from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from heygen_streaming.emulator.avatar.stamp import (
    Stamp,
    read_stamp,
    stamp_block_size,
    stamp_height,
    write_stamp,
)

W, H = 640, 360


def _busy_frame(rng: np.random.Generator, i: int, *, full_noise: bool) -> av.VideoFrame:
    """A hard-to-encode frame: fresh noise everywhere, or a large moving noise patch."""
    frame = av.VideoFrame(W, H, "yuv420p")
    for plane in frame.planes:
        if full_noise:
            data = rng.integers(0, 256, plane.buffer_size, dtype=np.uint8)
        else:
            data = np.full(plane.buffer_size, 128, np.uint8)
        plane.update(data.tobytes())
    if not full_noise:
        luma = np.frombuffer(memoryview(frame.planes[0]), np.uint8)
        luma = luma.reshape(-1, frame.planes[0].line_size)
        x = (i * 13) % 480
        luma[60:320, x : x + 160] = rng.integers(0, 256, (260, 160), dtype=np.uint8)
    frame.pts = i * 3600
    frame.time_base = fractions.Fraction(1, 90_000)
    return frame


def test_block_layout_depends_on_width_only() -> None:
    assert stamp_block_size(640) == 16
    assert stamp_block_size(1280) == 16
    assert stamp_height(640) == 48
    assert stamp_height(854) == 48
    assert stamp_height(1280) == 32


def test_round_trip_on_a_plain_plane() -> None:
    luma = np.full((H, W), 90, np.uint8)
    write_stamp(luma, 123_456, 1_790_000_000.123456)
    assert read_stamp(luma) == Stamp(123_456, pytest.approx(1_790_000_000.123456, abs=1e-6))


def test_unstamped_and_corrupted_frames_read_as_none() -> None:
    luma = np.full((H, W), 128, np.uint8)
    assert read_stamp(luma) is None
    write_stamp(luma, 7, 1.0)
    luma[:16, 16 * 20 : 16 * 21] = 255 - luma[8, 16 * 20 + 8]  # flip one payload bit
    assert read_stamp(luma) is None


@pytest.mark.parametrize(
    ("mime", "depayload", "full_noise"),
    [
        ("video/VP8", vp8_depayload, True),  # VP8 keeps the stamp even on pure noise
        ("video/VP8", vp8_depayload, False),
        ("video/H264", h264_depayload, False),  # H.264 at 500 kbps greys out pure noise
    ],
)
def test_stamp_survives_low_bitrate_codec(mime: str, depayload: object, full_noise: bool) -> None:
    codec = RTCRtpCodecParameters(mimeType=mime, clockRate=90_000, payloadType=96)
    encoder = get_encoder(codec)
    encoder.target_bitrate = 100_000  # clamped to the codec's minimum
    decoder = get_decoder(codec)
    rng = np.random.default_rng(1)
    recovered: list[Stamp] = []
    for i in range(40):
        frame = _busy_frame(rng, i, full_noise=full_noise)
        write_stamp(frame, 1000 + i, 1_790_000_000.0 + i / 25)
        payloads, timestamp = encoder.encode(frame, force_keyframe=(i == 0))
        data = b"".join(depayload(p) for p in payloads)  # type: ignore[operator]
        for decoded in decoder.decode(JitterFrame(data=data, timestamp=timestamp)):
            stamp = read_stamp(decoded)
            assert stamp is not None, f"frame {i} lost its stamp"
            recovered.append(stamp)
    assert [s.index for s in recovered] == list(range(1000, 1000 + len(recovered)))
    assert len(recovered) >= 35
    last = recovered[-1]
    assert last.sent_at == pytest.approx(1_790_000_000.0 + (last.index - 1000) / 25, abs=1e-5)


@pytest.mark.parametrize("full_noise", [True, False])
def test_stamp_survives_the_emulators_own_vp8_encoder(full_noise: bool) -> None:
    from heygen_streaming.emulator.avatar.encoder import FastVp8Encoder

    encoder = FastVp8Encoder(W, H)
    decoder = get_decoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000))
    rng = np.random.default_rng(2)
    indices = []
    for i in range(40):
        frame = _busy_frame(rng, i, full_noise=full_noise)
        write_stamp(frame, i, 1_790_000_000.0)
        data = encoder.encode(frame, keyframe=(i == 0))
        for decoded in decoder.decode(JitterFrame(data=data, timestamp=i * 3600)):
            stamp = read_stamp(decoded)
            assert stamp is not None, f"frame {i} lost its stamp"
            indices.append(stamp.index)
    assert indices == list(range(len(indices))) and len(indices) >= 35
