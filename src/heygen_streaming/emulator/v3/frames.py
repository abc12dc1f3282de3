"""The one place where v3 draws avatar frames (an adapter over `..avatar`).

It uses the avatar module's off-line renderer (``avatar.AvatarRenderer``, ``render(t,
openness)``) when the module has one, else today's live video track (``AvatarVideoTrack``,
whose ``render(index)`` reads the speech level from its state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import av

from .. import avatar as _avatar

__all__ = ["FPS", "HEIGHT", "WIDTH", "AvatarRenderer"]

WIDTH, HEIGHT = 1280, 720
"""Avatar Realtime streams at 720p only."""
FPS = 25
FULL_LEVEL = 0.06
"""Speech RMS at which the mouth is fully open."""
SMOOTHING = 0.6


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
        self._mouth = 0.0
        offline: Any = getattr(_avatar, "AvatarRenderer", None)
        self._renderer: Any = None
        self._track: Any = None
        if offline is not None:
            self._renderer = offline(WIDTH, HEIGHT, avatar=self._state.avatar)
        else:  # the live track reads only width/height/avatar and speech.talking/level
            self._track = _avatar.AvatarVideoTrack(cast(_avatar.AvatarState, self._state))

    def frame(self, index: int, *, talking: bool, level: float) -> av.VideoFrame:
        """Frame ``index`` (25 fps) with the mouth opened by ``level`` (speech RMS)."""
        if self._renderer is not None:
            target = min(1.0, level / FULL_LEVEL) if talking else 0.0
            self._mouth += (target - self._mouth) * SMOOTHING
            frame: av.VideoFrame = self._renderer.render(index / FPS, self._mouth, index=index)
            return frame
        self._state.speech.talking = talking
        self._state.speech.level = level
        rendered: av.VideoFrame = self._track.render(index)
        return rendered
