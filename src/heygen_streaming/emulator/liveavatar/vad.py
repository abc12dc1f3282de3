"""Energy voice detection on the user's microphone, sans I/O (FULL mode's user.speak_*).

There is no speech recognition in the emulator: it only tells *that* the user speaks.
Speech starts after ``start_ms`` of audio above ``threshold_db`` (dBFS RMS per frame) and
ends after ``hang_ms`` below it, so syllable gaps do not split an utterance.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["EnergyVad"]


class EnergyVad:
    """Feed mono frames (`feed`); it answers ``"start"``, ``"end"`` or None per frame."""

    def __init__(
        self, *, threshold_db: float = -40.0, start_ms: float = 100.0, hang_ms: float = 600.0
    ) -> None:
        self.threshold = 10 ** (threshold_db / 20)
        self.start_ms = start_ms
        self.hang_ms = hang_ms
        self.speaking = False
        self._loud_ms = 0.0
        self._quiet_ms = 0.0

    def feed(self, samples: npt.NDArray[np.floating], rate: int) -> Literal["start", "end"] | None:
        """Process one frame of ``samples`` (-1..1) at ``rate`` Hz."""
        if not len(samples) or rate <= 0:
            return None
        x = samples.astype(np.float64)
        rms = math.sqrt(float(np.mean(x * x)))
        ms = 1000.0 * len(samples) / rate
        if rms >= self.threshold:
            self._loud_ms += ms
            self._quiet_ms = 0.0
            if not self.speaking and self._loud_ms >= self.start_ms:
                self.speaking = True
                return "start"
        else:
            self._quiet_ms += ms
            if not self.speaking:
                self._loud_ms = 0.0
            elif self._quiet_ms >= self.hang_ms:
                self.speaking = False
                self._loud_ms = 0.0
                return "end"
        return None

    def reset(self) -> Literal["end"] | None:
        """Forget the state; ``"end"`` if an utterance was open."""
        was = self.speaking
        self.speaking = False
        self._loud_ms = self._quiet_ms = 0.0
        return "end" if was else None
