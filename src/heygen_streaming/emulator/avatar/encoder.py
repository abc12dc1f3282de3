"""The emulator's own VP8 encoder: aiortc's settings minus the expensive parts.

aiortc encodes frames with libvpx at ``cpu-used=-6`` and the temporal denoiser on
(``noise-sensitivity=4``), which suits camera input. The avatar is synthetic and clean, so
the emulator encodes it itself with the denoiser off and the fastest real-time speed, then
hands aiortc ready ``av.Packet`` objects (aiortc only packetizes them). Measured on the
2-core reference machine for 640x360 avatar frames: 1.55 ms -> 0.60 ms per frame, with the
same CBR bitrate (500 kbps, aiortc's default).

Keyframes: the first frame, whenever the receiver asks (PLI/FIR: aiortc calls
``RTCRtpSender._send_keyframe``, which ``rtc_private.watch_keyframe_requests`` hooks) and, with
``keyframe_interval`` > 0, at least every that many frames (a receiver that cannot send
PLI recovers from loss within that time; a requested keyframe restarts the count).
Otherwise libvpx adds one every `KEYFRAME_INTERVAL` frames.
"""

from __future__ import annotations

from typing import Any

import av

__all__ = ["KEYFRAME_INTERVAL", "STATIC_THRESHOLD", "FastH264Encoder", "FastVp8Encoder"]

BITRATE = 500_000
KEYFRAME_INTERVAL = 125  # frames: libvpx's own maximum distance (5 s at 25 fps)
STATIC_THRESHOLD = 400
"""Macroblocks whose SAD against the last frame is below this are skipped. At 1 the encoder
spends spare CBR bits re-coding the static backdrop every frame (2-2.7x the bits and +35-50 %
encode time for an unstamped picture, with no gain in fidelity)."""


class _Keyframes:
    """When an encoder makes a keyframe (see the module docstring)."""

    keyframe_interval = 0
    _since_keyframe: int | None = None  # frames since the last keyframe
    _codec: Any

    def encode(self, frame: av.VideoFrame, keyframe: bool = False) -> bytes:
        """Encode one frame; returns the encoded frame (empty if the encoder held it back).

        The frame is a keyframe when ``keyframe`` is true, when it is the first, or when
        ``keyframe_interval`` (> 0) frames have passed since the last one.
        """
        since = self._since_keyframe
        every = self.keyframe_interval
        if keyframe or since is None or (every and since + 1 >= every):
            frame.pict_type = av.video.frame.PictureType.I
            self._since_keyframe = 0
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
            self._since_keyframe = since + 1
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))


class FastVp8Encoder(_Keyframes):
    """A libvpx VP8 encoder for one track (call `encode` from one thread at a time)."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        bitrate: int = BITRATE,
        keyframe_interval: int = 0,
    ) -> None:
        if keyframe_interval < 0:
            raise ValueError("keyframe_interval must be 0 (off) or a number of frames")
        self.keyframe_interval = keyframe_interval
        codec: Any = av.CodecContext.create("libvpx", "w")
        codec.width = width
        codec.height = height
        codec.bit_rate = bitrate
        codec.pix_fmt = "yuv420p"
        codec.gop_size = keyframe_interval or KEYFRAME_INTERVAL
        codec.qmin = 2
        codec.qmax = 56
        codec.thread_count = 1
        codec.options = {
            "bufsize": str(bitrate),
            "cpu-used": "-16",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(bitrate),
            "maxrate": str(bitrate),
            "noise-sensitivity": "0",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": str(STATIC_THRESHOLD),
            "undershoot-pct": "100",
        }
        self._codec = codec


H264_BITRATE = 1_000_000  # aiortc's default H.264 target


class FastH264Encoder(_Keyframes):
    """A libx264 encoder for one track: aiortc's settings (Baseline, level 3.1, zero
    latency) at the ``ultrafast`` preset instead of x264's default ``medium``.

    aiortc encodes H.264 per receiving peer at the default preset: about 36 ms a 720p avatar
    frame on the reference machine (most of a core per session at 25 fps); this takes
    about 5 ms and is done once per track (aiortc only packetizes the packets). Keyframes
    (IDR, with SPS/PPS in front) as `FastVp8Encoder` makes them.
    """

    def __init__(
        self, width: int, height: int, *, bitrate: int = H264_BITRATE, keyframe_interval: int = 0
    ) -> None:
        if keyframe_interval < 0:
            raise ValueError("keyframe_interval must be 0 (off) or a number of frames")
        self.keyframe_interval = keyframe_interval
        codec: Any = av.CodecContext.create("libx264", "w")
        codec.width = width
        codec.height = height
        codec.bit_rate = bitrate
        codec.pix_fmt = "yuv420p"
        codec.gop_size = keyframe_interval or KEYFRAME_INTERVAL
        codec.thread_count = 1
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "level": "31",
            "forced-idr": "1",
        }
        codec.profile = "Baseline"
        self._codec = codec
