"""What the v3 avatar says: word-aligned synthetic speech and decoded user audio.

`Speech` follows the model of `..speech` (harmonics shaped by two vowel formants, a
raised-sine envelope per syllable, pitch and vowels from a hash of the text) but lays the
syllables out word by word: every word is voiced from its first to its last syllable,
words are separated by silence, and punctuation marks are zero-length words followed by a
pause. The word boundaries returned by `Speech.words` are therefore exact sample
positions of the same synthesis that produces the audio.

User audio (``audio`` mode) is in `.audio`.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..avatar.speech import SAMPLE_RATE

__all__ = [
    "SAMPLE_RATE",
    "SPEECH_LEVEL",
    "Clip",
    "Speech",
    "SpokenWord",
    "split_tokens",
    "voice_pitch",
]

Samples = npt.NDArray[np.float32]

WORD_GAP = 0.08
"""Silence between two words, seconds."""
PAUSES = {",": 0.18, ";": 0.18, ":": 0.18, ".": 0.3, "!": 0.3, "?": 0.3}
OTHER_PAUSE = 0.1
SPEECH_LEVEL = 0.06
"""RMS at which the avatar's mouth is fully open (as `..avatar` maps speech levels)."""
_AMPLITUDE = 0.9
_VOWELS = ((730.0, 1090.0), (530.0, 1840.0), (270.0, 2290.0), (570.0, 840.0), (300.0, 870.0))
_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_HARMONICS = np.arange(1, 31, dtype=np.float64)


def split_tokens(text: str) -> list[str]:
    """Words and punctuation marks, in order (punctuation is its own token)."""
    return _TOKEN.findall(text)


def voice_pitch(voice_id: str) -> float:
    """A stable pitch factor (0.8–1.43) per voice id."""
    return 0.8 + (zlib.crc32(voice_id.encode()) % 64) / 100.0


def is_word(token: str) -> bool:
    """True for a word, False for a punctuation mark."""
    return bool(re.match(r"\w", token))


@dataclass(frozen=True)
class SpokenWord:
    """A word and its sample span [start, end) relative to the start of its clip."""

    word: str
    start: int
    end: int


class Clip(Protocol):
    """Something the avatar plays: taken 40 ms at a time by the stream's worker."""

    level_gain: float

    @property
    def total(self) -> int:
        """Length in samples."""

    def take(self, start: int, count: int) -> Samples:
        """Samples [start, start + count) (zero-padded past the end)."""

    def words(self) -> list[SpokenWord]:
        """The words of the clip with their spans (empty for plain audio)."""


class Speech:
    """Synthetic speech for a list of tokens, synthesised lazily chunk by chunk."""

    level_gain = 1.0

    def __init__(self, tokens: list[str], pitch: float = 1.0) -> None:
        starts: list[int] = []
        lengths: list[int] = []
        f0: list[float] = []
        amps: list[npt.NDArray[np.float64]] = []
        spoken: list[SpokenWord] = []
        pos = 0
        for token in tokens:
            if not is_word(token):
                spoken.append(SpokenWord(token, pos, pos))
                pos += int(PAUSES.get(token, OTHER_PAUSE) * SAMPLE_RATE)
                continue
            if spoken and is_word(spoken[-1].word):
                pos += int(WORD_GAP * SAMPLE_RATE)
            seed = int.from_bytes(hashlib.sha256(token.lower().encode()).digest()[:8], "big")
            rng = np.random.default_rng(seed)
            count = max(1, round(len(token) / 3))
            begin = pos
            base = 120.0 * pitch * rng.uniform(0.9, 1.4)
            for i in range(count):
                length = int(SAMPLE_RATE * rng.uniform(0.15, 0.24))
                starts.append(pos)
                lengths.append(length)
                f0.append(base * (1.0 + 0.12 * np.sin(i * 0.7 + rng.uniform(0, 6))))
                f1, f2 = _VOWELS[int(rng.integers(0, len(_VOWELS)))]
                freqs = _HARMONICS * f0[-1]
                shape = np.exp(-(((freqs - f1) / 120.0) ** 2)) + 0.6 * np.exp(
                    -(((freqs - f2) / 180.0) ** 2)
                )
                shape += 0.08 / _HARMONICS
                shape[freqs > 5000.0] = 0.0
                amps.append(shape / max(float(shape.sum()), 1e-9))
                pos += length
            spoken.append(SpokenWord(token, begin, pos))
        self._words = spoken
        self._starts = np.asarray(starts, np.int64)
        self._lengths = np.asarray(lengths, np.int64)
        self._f0 = np.asarray(f0, np.float64)
        self._amps = np.asarray(amps, np.float64).reshape(-1, _HARMONICS.size)
        self._total = pos

    @property
    def total(self) -> int:
        """Length in samples (the pause after a final punctuation mark included)."""
        return self._total

    def words(self) -> list[SpokenWord]:
        """Words and punctuation with their exact sample spans."""
        return list(self._words)

    def take(self, start: int, count: int) -> Samples:
        """Samples [start, start + count) of the synthesis."""
        out = np.zeros(count, np.float32)
        if not self._starts.size or start >= self._total:
            return out
        t = np.arange(start, start + count, dtype=np.int64)
        syl = np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, None)
        offset = t - self._starts[syl]
        voiced = (offset >= 0) & (offset < self._lengths[syl])
        if not voiced.any():
            return out
        t, syl, offset = t[voiced], syl[voiced], offset[voiced]
        envelope = np.sin(np.pi * offset / self._lengths[syl]) ** 2
        phase = 2.0 * np.pi * t / SAMPLE_RATE * self._f0[syl]
        waves = np.sin(np.outer(phase, _HARMONICS))
        wave = np.einsum("ij,ij->i", waves, self._amps[syl])
        out[voiced] = (_AMPLITUDE * envelope * wave).astype(np.float32)
        return out
