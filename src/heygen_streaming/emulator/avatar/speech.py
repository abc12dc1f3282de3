"""The avatar's speech API, shared by every emulated API: utterances, a session's queue, clips.

The words are spoken by the emulator's one engine (`.engine`: eSpeak NG, or the synthetic
babble where it cannot load), in the voice the caller picks (`.voices`). Rendering runs on
the engine's thread, never on the event loop:

- `Utterance(task_id, text, voice=...)` starts rendering at once; `await u.wait_ready()`
  returns when it can start playing (its first part is rendered), ``await u.wait_timed()``
  when its exact length is known (then `duration_ms` is exact, not the estimate);
  `u.words()` are its words with sample spans (48 kHz) from the synthesiser's word events.
- `SpeechQueue`: a session's queue, drained 20 ms at a time by the audio track
  (`next_chunk`); `mouth` is the pose of the sample playing now (visemes from phonemes,
  blended with loudness); `listener` hears ``"start"`` when an utterance's first audio is
  taken and ``"stop"`` when its last is (or an interrupt cut it). An utterance whose audio
  is not rendered yet waits (comfort noise, no "start"), it never blocks the loop.
- `synthesize(text, ...)` renders a whole text in the calling thread (for off-line use).

Idle audio is near-silent comfort noise (about -66 dBFS).
"""

from __future__ import annotations

import collections
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .mouth import CLOSED, MouthPose, MouthShape
from .rendition import Speech
from .text import SpokenWord
from .voices import DEFAULT_VOICE, Voice, voice_for

__all__ = [
    "CHAT_REPLIES",
    "CLOSED",
    "SAMPLE_RATE",
    "MouthPose",
    "MouthShape",
    "Speech",
    "SpeechClip",
    "SpeechQueue",
    "SpokenWord",
    "TalkingListener",
    "Utterance",
    "Voice",
    "chat_reply",
    "estimate_duration_ms",
    "synthesize",
    "voice_for",
]

SAMPLE_RATE = 48_000
MS_PER_CHAR = 70.0
MIN_DURATION_MS = 500.0
_NOISE_AMPLITUDE = 0.0005

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
    """A rough duration for ``text`` before it is rendered: 70 ms per character, at least
    500 ms, divided by rate. (The rendered speech knows its real one.)"""
    return max(MIN_DURATION_MS, MS_PER_CHAR * len(text)) / max(rate, 0.1)


def chat_reply(text: str) -> str:
    """The canned reply the avatar speaks for a ``chat`` task (deterministic per text)."""
    digest = hashlib.sha256(text.encode()).digest()
    return CHAT_REPLIES[digest[0] % len(CHAT_REPLIES)]


class Utterance:
    """One queued piece of speech: a task id, its `Speech`, and how much of it played.

    ``voice`` (default: `DEFAULT_VOICE`) is scaled by ``rate`` (speed) and ``pitch``.
    ``duration_ms`` is only an estimate used until the speech is timed (the old call
    shape ``Utterance(task_id, text, duration_ms)`` still works).
    """

    def __init__(
        self,
        task_id: str,
        text: str,
        duration_ms: float | None = None,
        pitch: float = 1.0,
        *,
        voice: Voice | None = None,
        rate: float = 1.0,
    ) -> None:
        self.task_id = task_id
        self.text = text
        self.speech = Speech(text, (voice or DEFAULT_VOICE).scaled(rate, pitch)).start()
        self._estimate = estimate_duration_ms(text, rate) if duration_ms is None else duration_ms
        self.position = 0
        """Samples played so far."""

    def __repr__(self) -> str:
        return f"Utterance(task_id={self.task_id!r}, text={self.text[:40]!r}...)"

    @property
    def ready(self) -> bool:
        """True once it can start playing."""
        return self.speech.ready

    @property
    def duration_ms(self) -> float:
        """Its length in ms: exact once timed (`wait_timed`), the estimate before."""
        if self.speech.timed:
            return self.speech.total * 1000.0 / SAMPLE_RATE
        return self._estimate

    @property
    def total(self) -> int:
        """Its length in samples (so far, until timed)."""
        return self.speech.total

    @property
    def done(self) -> bool:
        """True once every sample was played."""
        return self.speech.timed and self.position >= self.speech.total

    @property
    def played_ms(self) -> float:
        """Milliseconds of this utterance played so far."""
        return self.position * 1000.0 / SAMPLE_RATE

    async def wait_ready(self) -> None:
        """Return once it can start playing (its first part is rendered)."""
        await self.speech.wait_ready()

    async def wait_timed(self) -> float:
        """Return its exact duration in ms once every part is rendered."""
        return await self.speech.wait_timed() * 1000.0 / SAMPLE_RATE

    def prepare(self, timeout: float | None = None) -> Utterance:
        """Block until timed (tests and threads; never on the event loop)."""
        self.speech.wait(timeout)
        return self

    def cancel(self) -> None:
        """Stop rendering it (an interrupt or a closed session)."""
        self.speech.cancel()

    def words(self) -> list[SpokenWord]:
        """Its words (and punctuation) with sample spans from its start, as rendered so far."""
        return self.speech.words()

    def pose_at(self, position: int) -> MouthPose:
        """The mouth's pose at sample ``position`` (closed outside the utterance)."""
        return self.speech.pose_at(position)

    def playable(self, count: int) -> bool:
        """True when the next ``count`` samples can be taken without rendering."""
        return self.speech.playable(self.position, count)

    def take(self, count: int) -> Samples:
        """The next ``count`` samples (zero-padded past the end); renders what is missing."""
        out = self.speech.take(self.position, count)
        self.position = min(self.position + count, max(self.position, self.speech.total))
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
        for utterance in self._queue:
            utterance.cancel()
        self._queue.clear()
        self.current = None
        self.mouth = CLOSED
        if playing is not None:
            self._tell("stop", playing, interrupted=True)
        return count

    def next_chunk(self, count: int) -> Samples:
        """The next ``count`` samples: speech when queued and rendered, else comfort noise."""
        out = (self._rng.standard_normal(count) * _NOISE_AMPLITUDE).astype(np.float32)
        self.mouth = CLOSED
        if self._queue and self._queue[0].playable(count):
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
    """A text rendered off-line: its audio, words and the mouth poses that go with it."""

    speech: Speech
    samples: Samples
    """Mono float32 samples in -1..1 at `SAMPLE_RATE`."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / SAMPLE_RATE

    def mouth_at(self, t: float) -> MouthPose:
        """The mouth's pose ``t`` seconds into the clip (`CLOSED` outside it)."""
        return self.speech.pose_at(math.floor(t * SAMPLE_RATE)) if t >= 0 else CLOSED

    def words(self) -> list[SpokenWord]:
        """The words with their sample spans."""
        return self.speech.words()


def synthesize(
    text: str, *, rate: float = 1.0, pitch: float = 1.0, voice: Voice | str | None = None
) -> SpeechClip:
    """The speech for ``text`` as the live emulator plays it (same engine, no noise).

    ``voice`` is a `Voice` or a voice id (`voice_for`); ``rate`` scales its speed and
    ``pitch`` its pitch. Blocks while rendering (a few ms per second of speech).
    """
    chosen = voice if isinstance(voice, Voice) else voice_for(voice)
    speech = Speech(text, chosen.scaled(rate, pitch)).render_all()
    return SpeechClip(speech, speech.take(0, speech.total))
