"""What the v3 avatar says: a `Clip` the stream's worker plays, 40 ms at a time.

Text becomes `Speech` clips (the emulator's one speech engine, `..avatar.engine`: eSpeak NG,
its word events giving each word's exact sample span, its phonemes the mouth); user audio
(``audio`` mode) becomes an `.audio.AudioClip`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..avatar.rendition import Speech
from ..avatar.speech import SAMPLE_RATE
from ..avatar.text import SpokenWord, is_word, split_tokens
from ..avatar.voices import Voice, voice_for

__all__ = [
    "SAMPLE_RATE",
    "SPEECH_LEVEL",
    "Clip",
    "Speech",
    "SpokenWord",
    "Voice",
    "is_word",
    "split_tokens",
    "voice_for",
]

Samples = npt.NDArray[np.float32]

SPEECH_LEVEL = 0.06
"""RMS at which the avatar's mouth is fully open (as `..avatar` maps speech levels)."""


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
