"""Synthetic avatar: an animated face (video) and speech-like audio, as aiortc tracks.

The picture is drawn once per (width, height, avatar) with numpy masks in RGB, converted to
yuv420p, and cut into cached layers: background, head, closed eyes and six mouth openings.
Each frame then only copies the background into the frame's planes, pastes the head at an
idle bob offset, the eyes (blinking every few seconds) and the mouth (opened by the current
speech level), and writes the frame stamp (`.stamp`). No per-pixel Python.

=========  ===========  ===  ==============================
quality    resolution   fps  VP8 target (CBR ceiling)
=========  ===========  ===  ==============================
high       1280 x 720   25   1 Mbps
medium     854 x 480    25   500 kbps
low        640 x 360    25   500 kbps
=========  ===========  ===  ==============================

The clean synthetic picture needs far less than the ceiling (about 140/170/260 kbps).
H.264 sessions (``video_encoding="H264"``) are encoded by aiortc from raw frames.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .encoder import FastVp8Encoder
from .speech import SAMPLE_RATE, SpeechQueue
from .stamp import stamp_height, write_stamp

__all__ = [
    "FPS",
    "RESOLUTIONS",
    "AvatarAudioTrack",
    "AvatarState",
    "AvatarVideoTrack",
    "FaceLayers",
    "face_layers",
]

FPS = 25
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "high": (1280, 720),
    "medium": (854, 480),
    "low": (640, 360),
}
MOUTH_LEVELS = 6
_VIDEO_CLOCK = 90_000
_AUDIO_PTIME = 0.020
_BOB = (0, 2, 4, 6, 6, 4, 2, 0, -2, -4, -6, -6, -4, -2)

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Planes:
    """A yuv420p picture (or patch) as three arrays; even origin and size."""

    y: U8
    u: U8
    v: U8

    def crop(self, x: int, y: int, w: int, h: int) -> Planes:
        """A copy of the rectangle at (x, y), size (w, h); all even."""
        return Planes(
            self.y[y : y + h, x : x + w].copy(),
            self.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2].copy(),
            self.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2].copy(),
        )

    def paste_into(self, dst: Planes, x: int, y: int) -> None:
        """Copy this patch into ``dst`` at (x, y) (even)."""
        h, w = self.y.shape
        dst.y[y : y + h, x : x + w] = self.y
        dst.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.u
        dst.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.v


@dataclass(frozen=True)
class FaceLayers:
    """Cached layers of one avatar at one resolution."""

    width: int
    height: int
    background: Planes
    head: Planes
    head_xy: tuple[int, int]
    eyes_closed: Planes
    eyes_xy: tuple[int, int]
    mouths: tuple[Planes, ...]
    mouth_xy: tuple[int, int]


def _even(value: float) -> int:
    return int(value) // 2 * 2


def _view(plane: Any, width: int, height: int) -> U8:
    """A writable numpy view of a frame plane (without its line padding)."""
    arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return arr[:height, :width]


def _palette(avatar: str) -> tuple[tuple[int, int, int], ...]:
    digest = hashlib.sha256(avatar.encode()).digest()
    hues = [
        ((40, 70, 110), (120, 60, 160), (30, 110, 90), (150, 80, 40)),
        ((224, 172, 140), (190, 140, 110), (240, 200, 170), (150, 100, 75)),
        ((60, 40, 30), (20, 20, 20), (170, 120, 60), (120, 50, 30)),
        ((40, 90, 170), (170, 40, 60), (60, 140, 70), (90, 90, 90)),
    ]
    return tuple(group[digest[i] % len(group)] for i, group in enumerate(hues))


def _to_planes(rgb: U8) -> Planes:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    yuv = frame.reformat(format="yuv420p")
    out = []
    for i, plane in enumerate(yuv.planes):
        w = yuv.width if i == 0 else yuv.width // 2
        h = yuv.height if i == 0 else yuv.height // 2
        arr = _view(plane, w, h).copy()
        out.append(arr)
    return Planes(out[0], out[1], out[2])


@functools.lru_cache(maxsize=16)
def face_layers(width: int, height: int, avatar: str = "emulator") -> FaceLayers:
    """Draw (once, cached) the layers of ``avatar`` at ``width`` x ``height``."""
    bg_rgb, skin, hair, shirt = _palette(avatar)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    s = height / 360.0
    cx, cy = width / 2.0, height * 0.47
    rgb = np.empty((height, width, 3), np.uint8)
    shade = (0.75 + 0.25 * (1.0 - yy / height))[..., None]
    rgb[:] = (np.asarray(bg_rgb, np.float32) * shade).astype(np.uint8)

    def ellipse(x0: float, y0: float, rx: float, ry: float) -> npt.NDArray[np.bool_]:
        inside: npt.NDArray[np.bool_] = ((xx - x0) / rx) ** 2 + ((yy - y0) / ry) ** 2 <= 1.0
        return inside

    rgb[ellipse(cx, height * 1.05, 150 * s, 120 * s)] = shirt
    rgb[(abs(xx - cx) < 24 * s) & (yy > cy + 60 * s) & (yy < cy + 110 * s)] = skin
    rgb[ellipse(cx, cy - 18 * s, 92 * s, 96 * s)] = hair
    face = ellipse(cx, cy, 80 * s, 98 * s)
    rgb[face] = skin
    rgb[ellipse(cx - 80 * s, cy, 12 * s, 20 * s)] = skin
    rgb[ellipse(cx + 80 * s, cy, 12 * s, 20 * s)] = skin
    eye_y = cy - 18 * s
    for ex in (cx - 32 * s, cx + 32 * s):
        rgb[ellipse(ex, eye_y, 15 * s, 9 * s)] = (250, 250, 250)
        rgb[ellipse(ex, eye_y, 7 * s, 7 * s)] = (40, 60, 90)
        rgb[ellipse(ex, eye_y, 3 * s, 3 * s)] = (5, 5, 5)
        rgb[(abs(yy - (eye_y - 17 * s)) < 2.5 * s) & (abs(xx - ex) < 16 * s)] = hair
    rgb[ellipse(cx, cy + 12 * s, 7 * s, 14 * s) & (xx > cx)] = np.asarray(skin) * 0.85
    base = _to_planes(rgb)

    # Layers: the head box (with margin for the bob), closed eyes, mouths.
    hx, hy = _even(cx - 110 * s), _even(cy - 125 * s)
    hw, hh = _even(220 * s), _even(235 * s)
    hy = max(hy, _even(stamp_height(width) + 8))
    head = base.crop(hx, hy, hw, hh)
    background = base  # the head box is always overdrawn; keep the body as drawn

    ex0, ey0 = _even(cx - 52 * s), _even(eye_y - 12 * s)
    ew, eh = _even(104 * s), _even(24 * s)
    closed = rgb.copy()
    lids = np.zeros((height, width), bool)
    for ex in (cx - 32 * s, cx + 32 * s):
        lids |= ellipse(ex, eye_y, 16 * s, 10 * s)
    closed[lids] = np.asarray(skin) * 0.9
    closed[lids & (abs(yy - eye_y) < 1.5 * s + 0.5)] = (60, 40, 30)
    eyes_closed = _to_planes(closed).crop(ex0, ey0, ew, eh)

    mx0, my0 = _even(cx - 36 * s), _even(cy + 30 * s)
    mw, mh = _even(72 * s), _even(44 * s)
    mouths = []
    for level in range(MOUTH_LEVELS):
        img = rgb.copy()
        open_ry = (2.0 + 3.4 * level) * s
        img[ellipse(cx, cy + 48 * s, 26 * s, open_ry + 2 * s)] = (170, 60, 70)
        img[ellipse(cx, cy + 48 * s, 22 * s, open_ry)] = (70, 15, 25)
        if level >= 2:
            teeth = ellipse(cx, cy + 48 * s - open_ry * 0.7, 16 * s, open_ry * 0.3)
            img[teeth] = (235, 235, 230)
        mouths.append(_to_planes(img).crop(mx0, my0, mw, mh))
    return FaceLayers(
        width=width,
        height=height,
        background=background,
        head=head,
        head_xy=(hx, hy),
        eyes_closed=eyes_closed,
        eyes_xy=(ex0 - hx, ey0 - hy),
        mouths=tuple(mouths),
        mouth_xy=(mx0 - hx, my0 - hy),
    )


class AvatarState:
    """Per-session state shared by the two tracks: speech queue, freeze switch."""

    def __init__(self, *, quality: str = "low", avatar: str = "emulator", seed: int = 0) -> None:
        self.width, self.height = RESOLUTIONS.get(quality, RESOLUTIONS["low"])
        self.avatar = avatar or "emulator"
        self.voice_rate = 1.0
        self.voice_pitch = 1.0
        self.speech = SpeechQueue(seed)
        self.unfrozen = asyncio.Event()
        self.unfrozen.set()
        self.frames_sent = 0
        self.audio_frames_sent = 0

    def freeze(self) -> None:
        """Stop producing media (RTP stops; the peer stays open)."""
        self.unfrozen.clear()

    def thaw(self) -> None:
        """Resume producing media."""
        self.unfrozen.set()


class _PacedTrack(MediaStreamTrack):
    def __init__(self, state: AvatarState, period: float) -> None:
        super().__init__()
        self._state = state
        self._period = period
        self._start: float | None = None
        self._count = 0

    async def _pace(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._state.unfrozen.is_set():
            await self._state.unfrozen.wait()
            self._start = None
        now = time.monotonic()
        if self._start is None:
            self._start = now - self._count * self._period
        else:
            wait = self._start + self._count * self._period - now
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.5:  # fell far behind (paused loop): do not burst
                self._start = now - self._count * self._period
        if self.readyState != "live":
            raise MediaStreamError
        index = self._count
        self._count += 1
        return index


class AvatarVideoTrack(_PacedTrack):
    """The avatar's video at 25 fps, each frame carrying a stamp.

    By default the track yields yuv420p frames (aiortc encodes them). After
    `encode_vp8` it yields VP8 ``av.Packet`` objects from its own cheaper encoder
    (see `.encoder`).
    """

    kind = "video"

    def __init__(self, state: AvatarState) -> None:
        super().__init__(state, 1.0 / FPS)
        self._layers = face_layers(state.width, state.height, state.avatar)
        self._mouth = 0.0
        self._blink_seed = int.from_bytes(hashlib.sha256(state.avatar.encode()).digest()[:2])
        self._encoder: FastVp8Encoder | None = None
        self._keyframe = True
        self._keyframe_every = 0

    def encode_vp8(self, keyframe_interval: int = 0) -> None:
        """Encode VP8 in the track and hand aiortc packets (the session's codec is VP8).

        ``keyframe_interval`` > 0 forces a key frame every that many frames (how a receiver
        that cannot ask for one, e.g. without RTCP feedback, recovers from loss).
        """
        width, height = self._state.width, self._state.height
        self._encoder = FastVp8Encoder(
            width, height, bitrate=1_000_000 if width >= 1280 else 500_000
        )
        self._keyframe = True
        self._keyframe_every = keyframe_interval

    def request_keyframe(self) -> None:
        """Make the next packet a keyframe (the receiver sent PLI/FIR)."""
        self._keyframe = True

    def render(self, index: int) -> av.VideoFrame:
        """Compose frame ``index`` (without stamp)."""
        layers = self._layers
        frame = av.VideoFrame(layers.width, layers.height, "yuv420p")
        planes = []
        for i, plane in enumerate(frame.planes):
            w = layers.width if i == 0 else layers.width // 2
            h = layers.height if i == 0 else layers.height // 2
            planes.append(_view(plane, w, h))
        dst = Planes(planes[0], planes[1], planes[2])
        np.copyto(dst.y, layers.background.y)
        np.copyto(dst.u, layers.background.u)
        np.copyto(dst.v, layers.background.v)
        hx, hy = layers.head_xy
        talking = self._state.speech.talking
        bob = _BOB[(index // 3) % len(_BOB)] // (1 if talking else 2)
        hy += bob // 2 * 2
        layers.head.paste_into(dst, hx, hy)
        cycle = (index + self._blink_seed) % (FPS * 4)
        if cycle < 4:
            layers.eyes_closed.paste_into(dst, hx + layers.eyes_xy[0], hy + layers.eyes_xy[1])
        target = min(1.0, self._state.speech.level / 0.06) if talking else 0.0
        self._mouth += (target - self._mouth) * 0.6
        level = min(MOUTH_LEVELS - 1, round(self._mouth * (MOUTH_LEVELS - 1)))
        layers.mouths[level].paste_into(dst, hx + layers.mouth_xy[0], hy + layers.mouth_xy[1])
        return frame

    def _frame(self, index: int) -> av.VideoFrame:
        frame = self.render(index)
        write_stamp(frame, index, time.time())
        frame.pts = round(index * _VIDEO_CLOCK / FPS)
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        return frame

    def _encoded(self, index: int, keyframe: bool) -> tuple[bytes, int]:
        """Render, stamp and encode frame ``index`` (runs in a worker thread)."""
        assert self._encoder is not None
        frame = self._frame(index)
        return self._encoder.encode(frame, keyframe), round(index * _VIDEO_CLOCK / FPS)

    async def recv(self) -> av.VideoFrame | av.Packet[Any]:
        """The next frame (or VP8 packet), paced at 25 fps; stamped with index and send time."""
        index = await self._pace()
        self._state.frames_sent += 1
        if self._encoder is None:
            return self._frame(index)
        keyframe, self._keyframe = self._keyframe, False
        if self._keyframe_every and index % self._keyframe_every == 0:
            keyframe = True
        # Drawing and encoding run off the event loop, which then only does RTP.
        loop = asyncio.get_running_loop()
        data, pts = await loop.run_in_executor(None, self._encoded, index, keyframe)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        return packet


def _opus_encoder() -> Any:
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = 64_000
    codec.format = "s16"
    codec.layout = "stereo"
    codec.sample_rate = SAMPLE_RATE
    codec.time_base = fractions.Fraction(1, SAMPLE_RATE)
    codec.options = {"application": "voip"}
    return codec


def _stereo_frame(chunk: npt.NDArray[np.float32], pts: int) -> av.AudioFrame:
    pcm = np.clip(chunk * 32767.0, -32768, 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.repeat(pcm, 2).reshape(1, -1), format="s16", layout="stereo"
    )
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
    return frame


@functools.lru_cache(maxsize=1)
def idle_packets() -> tuple[bytes, ...]:
    """One second of Opus-encoded comfort noise (50 packets), shared by every session."""
    encoder = _opus_encoder()
    queue = SpeechQueue(seed=7)
    samples = int(SAMPLE_RATE * _AUDIO_PTIME)
    out: list[bytes] = []
    for i in range(60):
        out.extend(
            bytes(p) for p in encoder.encode(_stereo_frame(queue.next_chunk(samples), i * samples))
        )
    return tuple(out[-50:])


class AvatarAudioTrack(_PacedTrack):
    """The avatar's voice: 48 kHz Opus in 20 ms packets.

    The track hands aiortc pre-encoded ``av.Packet`` objects: while idle, a shared loop of
    comfort-noise packets (no per-session encoding at all); while talking, speech encoded
    by the session's own libopus encoder in a worker thread. This halves the emulator's
    per-session CPU compared with handing aiortc raw frames (measured, see docs).
    """

    kind = "audio"

    def __init__(self, state: AvatarState) -> None:
        super().__init__(state, _AUDIO_PTIME)
        self._samples = int(SAMPLE_RATE * _AUDIO_PTIME)
        self._idle = idle_packets()
        self._encoder: Any = None

    def _encode(self, frame: av.AudioFrame) -> bytes | None:
        if self._encoder is None:
            self._encoder = _opus_encoder()
        packets = self._encoder.encode(frame)
        return bytes(packets[0]) if packets else None

    async def recv(self) -> av.Packet[Any]:
        """The next 20 ms of audio: speech when queued, else comfort noise."""
        index = await self._pace()
        speech = self._state.speech
        data: bytes | None = None
        if speech.talking:
            frame = _stereo_frame(speech.next_chunk(self._samples), index * self._samples)
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(None, self._encode, frame)
        else:
            speech.level = 0.0
        packet = av.Packet(data if data is not None else self._idle[index % len(self._idle)])
        packet.pts = index * self._samples
        packet.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._state.audio_frames_sent += 1
        return packet
