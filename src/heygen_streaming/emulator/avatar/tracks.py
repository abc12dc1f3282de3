"""The synthetic avatar: an offline rendering API, and the live tracks a session sends.

Off-line API (draw frames faster than real time, e.g. for an HLS stream)::

    from heygen_streaming.emulator.avatar import AvatarRenderer, synthesize

    clip = synthesize("Hello there!", voice="emulator")  # the emulator's own voice
    clip.samples            # mono float32 PCM at 48 kHz (SAMPLE_RATE), -1..1
    clip.duration           # seconds
    clip.words()            # SpokenWord(word, start, end) in samples, from the word events
    renderer = AvatarRenderer(1280, 720, avatar="emulator", stamp=False)
    for i in range(round(clip.duration * 25)):
        t = i / 25
        frame = renderer.render(t, clip.mouth_at(t))  # yuv420p av.VideoFrame, no pts

- ``AvatarRenderer(width, height, *, avatar="emulator", stamp=False, seed=None)``: any even
  size. ``render(t, mouth=CLOSED, *, index=None)`` draws the frame at ``t`` seconds; head
  motion and blinks are pure functions of ``t`` (and the seed), so frames can be drawn in
  any order. ``mouth`` is a `MouthPose` (openness 0..1 and a `MouthShape`) or a bare
  openness float. ``pose(t, mouth)`` + ``render_pose(pose)`` split the two steps, and
  ``draw(planes, pose)`` draws into existing yuv420p planes (`frame_planes(frame)`).
  With ``stamp=True`` each frame carries the frame stamp (`.stamp`) with ``index``
  (default ``round(t * 25)``) and the wall-clock time.
- ``synthesize(text, *, rate=1.0, pitch=1.0, voice=None) -> SpeechClip``: the same speech
  the live emulator plays for ``text`` (eSpeak NG, see `.engine`; ``voice`` a voice id or
  `.voices.Voice`); ``clip.mouth_at(t)`` is the mouth pose the live avatar shows at that
  instant (visemes from the phonemes, blended with the loudness).

Cost on the 2-core reference machine: drawing a frame takes about 0.1/0.2/0.3 ms at
640x360/854x480/1280x720; the layers are drawn once per (size, avatar) and cached (about
70/100/200 ms). A live VP8 session (draw + encode, talking or idle) takes about
0.5/0.7/1.7 ms per frame for about 150/230/420 kbps.

Live sessions: `AvatarState` holds a session's speech queue and switches; `AvatarVideoTrack`
renders with an `AvatarRenderer` at 25 fps (the mouth follows the sample the audio track
is playing), `AvatarAudioTrack` sends Opus.

=========  ===========  ===  ==============================
quality    resolution   fps  VP8 target (CBR ceiling)
=========  ===========  ===  ==============================
high       1280 x 720   25   1 Mbps
medium     854 x 480    25   500 kbps
low        640 x 360    25   500 kbps
=========  ===========  ===  ==============================

H.264 sessions (``video_encoding="H264"``) are encoded by aiortc from raw frames; VP8 by
the emulator's own encoder (`.encoder`), with forced periodic keyframes when the offer has
no RTCP feedback (`encode_vp8(keyframe_interval)`).
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import time
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from .encoder import FastH264Encoder, FastVp8Encoder
from .face import FaceLayers, face_layers
from .pcm import PcmPlayer, VoiceSource
from .renderer import AvatarRenderer, Pose, frame_planes
from .speech import (
    CLOSED,
    SAMPLE_RATE,
    MouthPose,
    MouthShape,
    SpeechClip,
    SpeechQueue,
    synthesize,
)
from .stamp import write_stamp
from .voices import DEFAULT_VOICE, Voice

__all__ = [
    "CLOSED",
    "FPS",
    "RESOLUTIONS",
    "SAMPLE_RATE",
    "AvatarAudioTrack",
    "AvatarRenderer",
    "AvatarState",
    "AvatarVideoTrack",
    "FaceLayers",
    "MouthPose",
    "MouthShape",
    "Pose",
    "SpeechClip",
    "face_layers",
    "frame_planes",
    "idle_packets",
    "synthesize",
]

FPS = 25
RESOLUTIONS: dict[str, tuple[int, int]] = {
    "high": (1280, 720),
    "medium": (854, 480),
    "low": (640, 360),
}
_VIDEO_CLOCK = 90_000
_AUDIO_PTIME = 0.020


class AvatarState:
    """Per-session state shared by the two tracks: speech queue, freeze switch, stamp."""

    def __init__(
        self, *, quality: str = "low", avatar: str = "emulator", seed: int = 0, stamp: bool = False
    ) -> None:
        self.width, self.height = RESOLUTIONS.get(quality, RESOLUTIONS["low"])
        self.avatar = avatar or "emulator"
        self.seed = seed
        self.stamp = stamp
        """Write the frame stamp into every video frame (tests and benchmarks)."""
        self.speech_voice: Voice = DEFAULT_VOICE
        """The voice its speech is rendered in (`voice_for` of the session's voice id)."""
        self.voice_rate = 1.0
        """Speed factor on top of `speech_voice` (v1 ``voice.rate``)."""
        self.voice_pitch = 1.0
        """Pitch factor on top of `speech_voice`."""
        self.speech = SpeechQueue(seed)
        self.pcm: PcmPlayer | None = None
        """Raw PCM the avatar plays (LiveAvatar LITE), read instead of `speech` while it
        has speech (see `voice`)."""
        self.unfrozen = asyncio.Event()
        self.unfrozen.set()
        self.frames_sent = 0
        self.audio_frames_sent = 0

    def voice(self) -> VoiceSource:
        """What the tracks play now: the PCM player while it has speech, else the queue."""
        pcm = self.pcm
        return pcm if pcm is not None and pcm.talking else self.speech

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
    """The avatar's video at 25 fps (stamped when the session's `AvatarState.stamp` is set).

    By default the track yields yuv420p frames (aiortc encodes them). After
    `encode_vp8` (or `encode_h264`) it yields VP8 (H.264) ``av.Packet`` objects from its own
    cheaper encoder (see `.encoder`).
    """

    kind = "video"

    def __init__(self, state: AvatarState) -> None:
        super().__init__(state, 1.0 / FPS)
        self._renderer = AvatarRenderer(
            state.width, state.height, avatar=state.avatar, seed=state.seed
        )
        self._encoder: FastVp8Encoder | FastH264Encoder | None = None
        self._keyframe = True
        self._lean = 0.0
        self.last_pose = Pose()

    def encode_vp8(self, keyframe_interval: int = 0) -> None:
        """Encode VP8 in the track and hand aiortc packets (the session's codec is VP8).

        ``keyframe_interval`` > 0 forces a key frame at least every that many frames (how
        a receiver that cannot ask for one, e.g. without RTCP feedback, recovers from
        loss), besides the first frame and those asked for (`request_keyframe`).
        """
        self._encode_with(FastVp8Encoder, keyframe_interval)

    def encode_h264(self, keyframe_interval: int = 0) -> None:
        """Encode H.264 in the track (`FastH264Encoder`, far cheaper than aiortc's own) and
        hand aiortc packets; keyframes as in `encode_vp8`."""
        self._encode_with(FastH264Encoder, keyframe_interval)

    def _encode_with(
        self, encoder: type[FastVp8Encoder | FastH264Encoder], keyframe_interval: int
    ) -> None:
        width, height = self._state.width, self._state.height
        bitrate = 1_000_000 if width >= 1280 else 500_000
        self._encoder = encoder(width, height, bitrate=bitrate, keyframe_interval=keyframe_interval)
        self._keyframe = True

    def request_keyframe(self) -> None:
        """Make the next packet a keyframe (the receiver sent PLI/FIR)."""
        self._keyframe = True

    def pose(self, index: int) -> Pose:
        """The pose of frame ``index``: the mouth follows the speech playing now."""
        speech = self._state.voice()
        mouth: MouthPose = speech.mouth if speech.talking else CLOSED
        self._lean += (mouth.open - self._lean) * 0.08  # about half a second to settle
        return self._renderer.pose(index / FPS, mouth, lean=self._lean)

    def render(self, index: int) -> av.VideoFrame:
        """Compose frame ``index`` (without stamp); its pose is kept in `last_pose`."""
        self.last_pose = self.pose(index)
        return self._renderer.render_pose(self.last_pose)

    def _frame(self, index: int) -> av.VideoFrame:
        frame = self.render(index)
        if self._state.stamp:
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
        """The next frame (or VP8 packet), paced at 25 fps."""
        index = await self._pace()
        self._state.frames_sent += 1
        if self._encoder is None:
            return self._frame(index)
        keyframe, self._keyframe = self._keyframe, False
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
        speech = self._state.voice()
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
