"""Deterministic speech-like audio: voiced syllables with vowel formants, 48 kHz mono.

No TTS engine: each utterance is a sequence of syllables (about 150–240 ms) whose pitch and
vowel come from a hash of the text, synthesised as a sum of harmonics shaped by two formant
peaks, with a raised-sine envelope per syllable and short pauses between "words". Chunks are
generated lazily (20 ms at a time), so long texts cost no memory. Idle audio is near-silent
comfort noise (about -66 dBFS) while speech peaks around -10 dBFS.

Each syllable also gives the mouth its pose (`MouthPose`): how open (the syllable's amplitude
envelope at that instant, scaled by its vowel) and which shape (wide for e/i, open for a,
round for o/u). `SpeechQueue.mouth` is the pose of the sample playing now; `synthesize`
renders a whole utterance off-line (samples plus `SpeechClip.mouth_at`).

The queue reports when an utterance's first chunk is taken (it starts playing) and when its
last chunk is taken or it is cut by an interrupt (it stops), through
`SpeechQueue.listener`; the session turns these into data-channel talking events.
"""

from __future__ import annotations

import collections
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHAT_REPLIES",
    "CLOSED",
    "SAMPLE_RATE",
    "MouthPose",
    "MouthShape",
    "SpeechClip",
    "SpeechQueue",
    "TalkingListener",
    "Utterance",
    "chat_reply",
    "estimate_duration_ms",
    "synthesize",
]

SAMPLE_RATE = 48_000
MS_PER_CHAR = 70.0
MIN_DURATION_MS = 500.0
_NOISE_AMPLITUDE = 0.0005
_SPEECH_AMPLITUDE = 0.3
# (F1, F2) in Hz for a, e, i, o, u.
_VOWELS = ((730.0, 1090.0), (530.0, 1840.0), (270.0, 2290.0), (570.0, 840.0), (300.0, 870.0))


class MouthShape(IntEnum):
    """The mouth's shape class (a viseme): spread lips, open jaw, rounded lips."""

    WIDE = 0
    OPEN = 1
    ROUND = 2


@dataclass(frozen=True)
class MouthPose:
    """How open the mouth is (0 closed .. 1 widest) and its `MouthShape`."""

    open: float = 0.0
    shape: MouthShape = MouthShape.OPEN


CLOSED = MouthPose()
"""The mouth at rest."""

# Per vowel a, e, i, o, u: the mouth's shape and how far that vowel opens it.
_VOWEL_MOUTH = (
    (MouthShape.OPEN, 1.0),
    (MouthShape.WIDE, 0.75),
    (MouthShape.WIDE, 0.5),
    (MouthShape.ROUND, 0.85),
    (MouthShape.ROUND, 0.6),
)

CHAT_REPLIES = (
    "That is a great question. Let me think about it for a moment.",
    "Thanks for asking! I am the offline emulator, so my answers are canned.",
    "I hear you. Here is a short answer from a synthetic avatar.",
    "Interesting. Tell me more about what you would like to know.",
)

Samples = npt.NDArray[np.float32]
TalkingListener = Callable[[str, "Utterance", bool], None]
"""``listener(kind, utterance, interrupted)`` with kind ``"start"`` or ``"stop"``."""


def estimate_duration_ms(text: str, rate: float = 1.0) -> float:
    """Speech duration for ``text``: 70 ms per character, at least 500 ms, divided by rate."""
    return max(MIN_DURATION_MS, MS_PER_CHAR * len(text)) / max(rate, 0.1)


def chat_reply(text: str) -> str:
    """The canned reply the avatar speaks for a ``chat`` task (deterministic per text)."""
    digest = hashlib.sha256(text.encode()).digest()
    return CHAT_REPLIES[digest[0] % len(CHAT_REPLIES)]


@dataclass
class Utterance:
    """One queued piece of speech."""

    task_id: str
    text: str
    duration_ms: float
    pitch: float = 1.0
    position: int = 0
    total: int = field(init=False)
    _syllable: int = field(init=False)
    _f0: npt.NDArray[np.float64] = field(init=False, repr=False)
    _amps: npt.NDArray[np.float64] = field(init=False, repr=False)
    _gain: npt.NDArray[np.float64] = field(init=False, repr=False)
    _vowels: npt.NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.total = int(self.duration_ms * SAMPLE_RATE / 1000)
        seed = int.from_bytes(hashlib.sha256(self.text.encode()).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        self._syllable = int(SAMPLE_RATE * rng.uniform(0.15, 0.24))
        count = self.total // self._syllable + 2
        base = 120.0 * self.pitch * rng.uniform(0.9, 1.4)
        self._f0 = base * (1.0 + 0.12 * np.sin(np.arange(count) * 0.7 + rng.uniform(0, 6)))
        self._gain = np.where(rng.random(count) < 0.18, 0.0, rng.uniform(0.6, 1.0, count))
        harmonics = np.arange(1, 31, dtype=np.float64)
        vowels = rng.integers(0, len(_VOWELS), count)
        self._vowels = vowels
        amps = np.zeros((count, harmonics.size))
        for i in range(count):
            f1, f2 = _VOWELS[int(vowels[i])]
            freqs = harmonics * self._f0[i]
            shape = np.exp(-(((freqs - f1) / 120.0) ** 2)) + 0.6 * np.exp(
                -(((freqs - f2) / 180.0) ** 2)
            )
            shape += 0.08 / harmonics
            shape[freqs > 5000.0] = 0.0
            amps[i] = shape / max(float(shape.sum()), 1e-9)
        self._amps = amps

    @property
    def done(self) -> bool:
        """True once every sample was produced."""
        return self.position >= self.total

    @property
    def played_ms(self) -> float:
        """Milliseconds of this utterance produced so far."""
        return self.position * 1000.0 / SAMPLE_RATE

    def pose_at(self, position: int) -> MouthPose:
        """The mouth's pose at sample ``position`` (closed outside the utterance)."""
        if not 0 <= position < self.total:
            return CLOSED
        syl = position // self._syllable
        within = (position % self._syllable) / self._syllable
        envelope = math.sin(math.pi * within) ** 2 * float(self._gain[syl])
        shape, scale = _VOWEL_MOUTH[int(self._vowels[syl])]
        return MouthPose(open=envelope**0.8 * scale, shape=shape)

    def take(self, count: int) -> Samples:
        """The next ``count`` samples (zero-padded past the end)."""
        start = self.position
        stop = min(self.total, start + count)
        out = np.zeros(count, np.float32)
        if stop > start:
            t = np.arange(start, stop)
            syl = t // self._syllable
            within = (t % self._syllable) / self._syllable
            envelope = np.sin(np.pi * within) ** 2 * self._gain[syl]
            theta = 2.0 * np.pi * t / SAMPLE_RATE * self._f0[syl]
            amps = self._amps.T[:, syl]  # (harmonics, samples)
            # sin(k·θ) by the Chebyshev recurrence: one sin and one cos per sample in all.
            twice_cos = 2.0 * np.cos(theta)
            prev, wave = np.zeros_like(theta), np.sin(theta)
            voiced = amps[0] * wave
            for row in amps[1:]:
                prev, wave = wave, twice_cos * wave - prev
                voiced += row * wave
            out[: stop - start] = (_SPEECH_AMPLITUDE * 3.0 * envelope * voiced).astype(np.float32)
        self.position = stop
        return out


class SpeechQueue:
    """Queued utterances of one session, drained 20 ms at a time by the audio track."""

    def __init__(self, seed: int = 0) -> None:
        self._queue: collections.deque[Utterance] = collections.deque()
        self._rng = np.random.default_rng(seed)
        self.level = 0.0
        """RMS level (0..1) of the last chunk."""
        self.mouth = CLOSED
        """The mouth's pose at the last sample handed out (what is playing now)."""
        self.current: Utterance | None = None
        self.listener: TalkingListener | None = None
        """Told when an utterance starts and stops playing (see the module docstring)."""

    def _tell(self, kind: str, utterance: Utterance, interrupted: bool = False) -> None:
        if self.listener is not None:
            self.listener(kind, utterance, interrupted)

    @property
    def talking(self) -> bool:
        """True while speech is queued or playing."""
        return bool(self._queue)

    def push(self, utterance: Utterance) -> None:
        """Queue speech after whatever is playing."""
        self._queue.append(utterance)

    def interrupt(self) -> int:
        """Drop current and queued speech at once; returns how many utterances were cut."""
        count = len(self._queue)
        playing = self._queue[0] if self._queue and self._queue[0].position > 0 else None
        self._queue.clear()
        self.current = None
        self.mouth = CLOSED
        if playing is not None:
            self._tell("stop", playing, interrupted=True)
        return count

    def next_chunk(self, count: int) -> Samples:
        """The next ``count`` samples: speech when queued, else comfort noise."""
        out = (self._rng.standard_normal(count) * _NOISE_AMPLITUDE).astype(np.float32)
        self.mouth = CLOSED
        if self._queue:
            utterance = self._queue[0]
            self.current = utterance
            if utterance.position == 0:
                self._tell("start", utterance)
            out += utterance.take(count)
            self.mouth = utterance.pose_at(utterance.position - 1)
            if utterance.done:  # the next utterance starts with the next chunk
                self._queue.popleft()
                self.current = None
                self._tell("stop", utterance)
        self.level = math.sqrt(float(np.mean(out.astype(np.float64) ** 2)))
        return out


@dataclass(frozen=True)
class SpeechClip:
    """One utterance rendered off-line: its audio and the mouth poses that go with it."""

    utterance: Utterance
    samples: Samples
    """Mono float32 samples in -1..1 at `SAMPLE_RATE`."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / SAMPLE_RATE

    def mouth_at(self, t: float) -> MouthPose:
        """The mouth's pose ``t`` seconds into the clip (`CLOSED` outside it)."""
        return self.utterance.pose_at(math.floor(t * SAMPLE_RATE)) if t >= 0 else CLOSED


def synthesize(text: str, *, rate: float = 1.0, pitch: float = 1.0) -> SpeechClip:
    """The speech for ``text`` as the live emulator would play it (same samples, no noise).

    ``rate`` scales the speed (`estimate_duration_ms`), ``pitch`` the voice's pitch. Runs
    far faster than real time (about 15 ms per second of speech on the reference machine).
    """
    utterance = Utterance("", text, estimate_duration_ms(text, rate), pitch=pitch)
    samples = utterance.take(utterance.total)
    return SpeechClip(Utterance("", text, utterance.duration_ms, pitch=pitch), samples)
