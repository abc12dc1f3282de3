"""The mouth: its pose (`MouthPose`), visemes from phonemes, and a part's pose over time.

`MouthTrack` holds one rendered part's phonemes (where each starts, the viseme it asks for)
and its energy envelope (RMS per 10 ms). The pose at a sample is the loudness there
(``(RMS / FULL_LEVEL) ** 0.85``, at most 1) scaled by the viseme:
``loud * (0.8 + 0.2 * openness)``, the openness
eased toward the next phoneme's during the last third of the current one (lips anticipate
the next sound); the shape is the current phoneme's. So the lips close on p/b/m even while
the voice sounds, open widest on "a", round on "o"/"u"/"w", and follow the loudness within
each sound (mouth openness correlates with the audio level about as well as pure loudness).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

__all__ = ["CLOSED", "ENVELOPE_HOP_MS", "MouthPose", "MouthShape", "MouthTrack", "viseme"]

ENVELOPE_HOP_MS = 10
FULL_LEVEL = 0.2
"""Speech RMS (in -1..1) at which the envelope counts as fully loud."""
_EASE = 0.35
_BASE = 0.8
_EXPONENT = 0.85


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

_W, _O, _R = MouthShape.WIDE, MouthShape.OPEN, MouthShape.ROUND
# (first characters of an IPA phoneme, openness, shape); longest prefixes first.
_VISEMES: tuple[tuple[str, float, MouthShape], ...] = (
    ("tʃ", 0.3, _R),
    ("dʒ", 0.3, _R),
    ("aɪ", 1.0, _O),
    ("aʊ", 1.0, _O),
    ("oʊ", 0.8, _R),
    ("ɔɪ", 0.8, _R),
    ("eɪ", 0.65, _W),
)
_FIRST: dict[str, tuple[float, MouthShape]] = {
    **dict.fromkeys("pbmɱ", (0.0, _W)),  # lips together
    **dict.fromkeys("fv", (0.12, _W)),  # lower lip to teeth
    **dict.fromkeys("wʍɥ", (0.3, _R)),
    **dict.fromkeys("ʃʒ", (0.3, _R)),
    **dict.fromkeys("θð", (0.3, _W)),
    **dict.fromkeys("aæɑɐʌäɶ", (1.0, _O)),
    **dict.fromkeys("əɚɜɝɘɞ", (0.5, _O)),
    **dict.fromkeys("eɛ", (0.65, _W)),
    **dict.fromkeys("iɪyʏɨ", (0.45, _W)),
    **dict.fromkeys("oɔɒøœɤ", (0.8, _R)),
    **dict.fromkeys("uʊɯʉ", (0.55, _R)),
    "h": (0.45, _O),
}
_CONSONANT = (0.3, _W)


def viseme(phoneme: str) -> tuple[float, MouthShape]:
    """Openness (0..1) and shape for an IPA phoneme; ``""`` (a pause) is closed."""
    name = phoneme.lstrip("ˈˌ")
    if not name:
        return 0.0, _O
    for prefix, openness, shape in _VISEMES:
        if name.startswith(prefix):
            return openness, shape
    return _FIRST.get(name[0], _CONSONANT)


Samples = npt.NDArray[np.float32]


class MouthTrack:
    """The mouth over one part: ``pose_at(sample)``."""

    def __init__(
        self,
        starts: list[int],
        targets: list[tuple[float, MouthShape]],
        envelope: npt.NDArray[np.float32],
        hop: int,
    ) -> None:
        self._starts = starts
        self._opens = [t[0] for t in targets]
        self._shapes = [t[1] for t in targets]
        self._envelope = envelope
        self._hop = hop

    @classmethod
    def build(cls, phonemes: list[tuple[int, str]], samples: Samples, rate: int) -> MouthTrack:
        """From (start sample, IPA name) pairs and the part's audio at ``rate``."""
        starts: list[int] = []
        targets: list[tuple[float, MouthShape]] = []
        for start, name in phonemes:
            if name.startswith("("):  # a language switch, not a sound
                continue
            if starts and start <= starts[-1]:
                starts.pop()
                targets.pop()
            starts.append(start)
            targets.append(viseme(name))
        return cls(starts, targets, envelope(samples, rate), rate * ENVELOPE_HOP_MS // 1000)

    def pose_at(self, position: int) -> MouthPose:
        """The pose at sample ``position`` of the part (closed outside it)."""
        slot = position // self._hop if self._hop > 0 else -1
        if not self._starts or position < 0 or not 0 <= slot < len(self._envelope):
            return CLOSED
        i = bisect.bisect_right(self._starts, position) - 1
        if i < 0:
            return CLOSED
        target = self._opens[i]
        if i + 1 < len(self._starts):
            begin, end = self._starts[i], self._starts[i + 1]
            ease_from = end - (end - begin) * _EASE
            if position > ease_from:
                mix = (position - ease_from) / max(1.0, end - ease_from)
                target += (self._opens[i + 1] - target) * mix
        loud = min(1.0, float(self._envelope[slot]) / FULL_LEVEL) ** _EXPONENT
        if target <= 0.0:
            return MouthPose(0.0, self._shapes[i])
        return MouthPose(open=loud * (_BASE + (1.0 - _BASE) * target), shape=self._shapes[i])


def envelope(samples: Samples, rate: int) -> npt.NDArray[np.float32]:
    """RMS per `ENVELOPE_HOP_MS` of ``samples`` (the last, partial hop included)."""
    hop = max(1, rate * ENVELOPE_HOP_MS // 1000)
    count = -(-samples.size // hop)
    padded = np.zeros(count * hop, np.float64)
    padded[: samples.size] = samples
    rms: npt.NDArray[np.float32] = np.sqrt(np.mean(padded.reshape(count, hop) ** 2, axis=1))
    return rms.astype(np.float32)
