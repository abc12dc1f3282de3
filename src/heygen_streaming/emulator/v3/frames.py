"""The one place where v3 draws avatar frames: the avatar module's off-line renderer at 720p."""

from __future__ import annotations

import av

from ..avatar import AvatarRenderer as _OfflineRenderer
from ..avatar import MouthPose, MouthShape

__all__ = ["FPS", "HEIGHT", "WIDTH", "AvatarRenderer"]

WIDTH, HEIGHT = 1280, 720
"""Avatar Realtime streams at 720p only."""
FPS = 25
FULL_LEVEL = 0.06
"""Speech RMS at which the mouth is fully open."""
SMOOTHING = 0.6


class AvatarRenderer:
    """Draws 1280x720 yuv420p frames of one avatar (call from one thread)."""

    def __init__(self, avatar: str) -> None:
        self._mouth = 0.0
        self._renderer = _OfflineRenderer(WIDTH, HEIGHT, avatar=avatar or "emulator")

    def frame(
        self, index: int, *, talking: bool, level: float, mouth: MouthPose | None = None
    ) -> av.VideoFrame:
        """Frame ``index`` (25 fps) with the mouth at ``mouth`` (speech: its viseme), else
        opened by ``level`` (the audio's RMS)."""
        shape = mouth.shape if mouth is not None and talking else MouthShape.OPEN
        if mouth is not None:  # visemes ease from one to the next already
            self._mouth = mouth.open if talking else 0.0
        else:
            target = min(1.0, level / FULL_LEVEL) if talking else 0.0
            self._mouth += (target - self._mouth) * SMOOTHING
        return self._renderer.render(index / FPS, MouthPose(self._mouth, shape), index=index)
