"""Where the avatar's features sit and its colours.

All sizes are in units of the 640x360 design times ``s`` (`Geometry.s`); light comes from
the upper left. Colours come from a hash of the avatar's name (`palette`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .canvas import F32, clip01

__all__ = ["Geometry", "even", "geometry", "palette"]


def even(value: float) -> int:
    """Round down to an even integer (yuv420p positions and sizes)."""
    return int(value) // 2 * 2


def palette(avatar: str) -> tuple[tuple[float, float, float], ...]:
    """Backdrop, skin, hair, shirt and iris colours picked by a hash of the name."""
    digest = hashlib.sha256(avatar.encode()).digest()
    groups = (
        ((40, 70, 110), (120, 60, 160), (30, 110, 90), (150, 80, 40)),  # backdrop
        ((224, 172, 140), (190, 140, 110), (240, 200, 170), (150, 100, 75)),  # skin
        ((60, 40, 30), (28, 24, 24), (170, 120, 60), (120, 50, 30)),  # hair
        ((40, 90, 170), (170, 40, 60), (60, 140, 70), (90, 90, 90)),  # shirt
        ((70, 110, 150), (90, 60, 35), (70, 120, 80), (60, 45, 35)),  # iris
    )
    out = []
    for i, group in enumerate(groups):
        r, g, b = group[digest[i] % len(group)]
        out.append((float(r), float(g), float(b)))
    return tuple(out)


@dataclass(frozen=True)
class Geometry:
    """Where the features sit (frame pixels) and the avatar's colours."""

    width: int
    height: int
    s: float
    cx: float
    cy: float
    eye_y: float
    eye_dx: float
    mouth_y: float
    backdrop: F32
    skin: F32
    hair: F32
    shirt: F32
    iris: F32

    def skin_at(self, xx: F32, yy: F32, gain: float = 1.0) -> F32:
        """Skin lit from the upper left, darker towards the face's rim."""
        nx, ny = (xx - self.cx) / (80 * self.s), (yy - self.cy) / (100 * self.s)
        r2 = np.minimum(nx * nx + ny * ny, 1.6)
        light = gain * (1.0 + 0.10 * (-0.55 * nx - 0.45 * ny) - 0.20 * r2**1.5)
        out: F32 = self.skin * light[..., None]
        return out

    def hair_at(self, xx: F32, yy: F32) -> F32:
        """Hair darker downwards, with a sheen arc at the upper left."""
        s = self.s
        nx, ny = (xx - self.cx) / (96 * s), (yy - (self.cy - 14 * s)) / (100 * s)
        rho = np.hypot(nx, ny)
        grad = (1.12 - 0.30 * (ny + 1) / 2)[..., None]
        sheen = 0.45 * np.exp(-(((rho - 0.8) / 0.08) ** 2)) * clip01(-(0.6 * nx + 0.8 * ny))
        light = np.minimum(self.hair * 1.7 + 45, 255)
        out: F32 = self.hair * grad * (1 - sheen[..., None]) + light * sheen[..., None]
        return out


def geometry(width: int, height: int, avatar: str) -> Geometry:
    """The layout for a ``width`` x ``height`` frame (figure centred) and ``avatar``'s colours."""
    colors = [np.asarray(c, np.float32) for c in palette(avatar)]
    s = min(height / 360.0, width / 640.0)
    cx, cy = width / 2.0, height * 0.44
    return Geometry(
        width=width,
        height=height,
        s=s,
        cx=cx,
        cy=cy,
        eye_y=cy - 14 * s,
        eye_dx=31 * s,
        mouth_y=cy + 50 * s,
        backdrop=colors[0],
        skin=colors[1],
        hair=colors[2],
        shirt=colors[3],
        iris=colors[4],
    )
