"""The fallback voice when eSpeak NG cannot load: deterministic vowel babble, word by word.

Each word is one or more syllables (about 150–240 ms at the default speed) whose pitch and
vowel come from a hash of the word, synthesised as a sum of harmonics shaped by two formant
peaks with a raised-sine envelope; words are separated by 80 ms of silence and punctuation
adds a pause. It says no words, but its word spans are exact and its "phonemes" (one vowel
per syllable, a pause between words) drive the same mouth as real speech.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from .text import SpokenWord, is_word, split_tokens
from .voices import Voice

__all__ = ["render_babble"]

WORD_GAP = 0.08
PAUSES = {",": 0.18, ";": 0.18, ":": 0.18, ".": 0.3, "!": 0.3, "?": 0.3}
OTHER_PAUSE = 0.1
_AMPLITUDE = 0.3
# (vowel, F1, F2) in Hz.
_VOWELS: tuple[tuple[str, float, float], ...] = (
    ("a", 730.0, 1090.0),
    ("e", 530.0, 1840.0),
    ("i", 270.0, 2290.0),
    ("o", 570.0, 840.0),
    ("u", 300.0, 870.0),
)
_HARMONICS = np.arange(1, 31, dtype=np.float64)

Samples = npt.NDArray[np.float32]


def render_babble(
    text: str, voice: Voice, rate: int
) -> tuple[Samples, list[SpokenWord], list[tuple[int, str]]]:
    """Samples at ``rate``, the word spans and (start, vowel or ``""``) per syllable/pause."""
    pitch = 0.8 + voice.pitch / 100 * 0.6
    speed = 165.0 / max(80, voice.wpm)
    pieces: list[Samples] = []
    words: list[SpokenWord] = []
    phonemes: list[tuple[int, str]] = []
    pos = 0

    def silence(seconds: float) -> None:
        nonlocal pos
        count = int(seconds * rate)
        if count:
            phonemes.append((pos, ""))
            pieces.append(np.zeros(count, np.float32))
            pos += count

    for token in split_tokens(text):
        if not is_word(token):
            words.append(SpokenWord(token, pos, pos))
            silence(PAUSES.get(token, OTHER_PAUSE) * speed)
            continue
        if words and is_word(words[-1].word):
            silence(WORD_GAP * speed)
        seed = int.from_bytes(hashlib.sha256(token.lower().encode()).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        begin = pos
        base = 120.0 * pitch * rng.uniform(0.9, 1.4)
        for i in range(max(1, round(len(token) / 3))):
            length = int(rate * rng.uniform(0.15, 0.24) * speed)
            f0 = base * (1.0 + 0.12 * np.sin(i * 0.7 + rng.uniform(0, 6)))
            vowel, f1, f2 = _VOWELS[int(rng.integers(0, len(_VOWELS)))]
            phonemes.append((pos, vowel))
            pieces.append(_syllable(length, f0, f1, f2, rate))
            pos += length
        words.append(SpokenWord(token, begin, pos))
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return samples, words, phonemes


def _syllable(length: int, f0: float, f1: float, f2: float, rate: int) -> Samples:
    freqs = _HARMONICS * f0
    shape = np.exp(-(((freqs - f1) / 120.0) ** 2)) + 0.6 * np.exp(-(((freqs - f2) / 180.0) ** 2))
    shape += 0.08 / _HARMONICS
    shape[freqs > 5000.0] = 0.0
    amps = shape / max(float(shape.sum()), 1e-9)
    t = np.arange(length, dtype=np.float64)
    theta = 2.0 * np.pi * t / rate * f0
    # sin(k·θ) by the Chebyshev recurrence: one sin and one cos per sample in all.
    twice_cos = 2.0 * np.cos(theta)
    prev, wave = np.zeros_like(theta), np.sin(theta)
    voiced = amps[0] * wave
    for row in amps[1:]:
        prev, wave = wave, twice_cos * wave - prev
        voiced += row * wave
    envelope = np.sin(np.pi * t / max(1, length)) ** 2
    out: Samples = (_AMPLITUDE * 3.0 * envelope * voiced).astype(np.float32)
    return out
