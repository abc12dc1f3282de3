"""The one place where v3 draws avatar frames (an adapter over `..avatar`).

Swapping to another renderer (e.g. a public renderer API of `..avatar`) only changes
`AvatarRenderer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import av

from ..avatar import AvatarState, AvatarVideoTrack

__all__ = ["HEIGHT", "WIDTH", "AvatarRenderer"]

WIDTH, HEIGHT = 1280, 720
"""Avatar Realtime streams at 720p only."""


@dataclass
class _Speech:
    talking: bool = False
    level: float = 0.0


@dataclass
class _State:
    avatar: str
    width: int = WIDTH
    height: int = HEIGHT
    speech: _Speech = field(default_factory=_Speech)


class AvatarRenderer:
    """Draws 1280x720 yuv420p frames of one avatar (call from one thread)."""

    def __init__(self, avatar: str) -> None:
        self._state = _State(avatar or "emulator")
        # The v1 track reads only width/height/avatar and speech.talking/level from its state.
        self._track = AvatarVideoTrack(cast(AvatarState, self._state))

    def frame(self, index: int, *, talking: bool, level: float) -> av.VideoFrame:
        """Frame ``index`` (25 fps) with the mouth opened by ``level`` (speech RMS)."""
        self._state.speech.talking = talking
        self._state.speech.level = level
        return self._track.render(index)
