"""The synthetic avatar's cached layers, drawn once per (width, height, avatar).

Everything is painted in floating-point RGB with anti-aliased edges and soft shading
(`.drawing` and `.features` on a `.canvas`, laid out by `.geometry`), then converted to
yuv420p and cut into what `AvatarRenderer` composes per frame:

- ``background``: backdrop, shoulders and neck (static);
- per phase variant (the head shifted by 0 or 1 px in x and y, so it moves in 1 px steps
  although yuv420p only allows even positions): the ``head`` sprite (hair, ears, face,
  brows, open eyes looking ahead, closed mouth) with an alpha edge, eye patches (three
  lid states times three gaze directions) and one mouth patch per `MouthShape` and
  openness level; patches are opaque and pasted inside the face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .canvas import Canvas, Planes, Shifts, Sprite
from .drawing import background as draw_background
from .drawing import draw_head
from .features import draw_eye, draw_lid, draw_mouth
from .geometry import even, geometry
from .speech import MouthShape

__all__ = ["MOUTH_LEVELS", "FaceLayers", "HeadVariant", "Planes", "Sprite", "face_layers"]

MOUTH_LEVELS = 8
"""Openness levels per mouth shape (level 0 is the closed mouth)."""


@dataclass(frozen=True)
class HeadVariant:
    """The head and its patches for one sub-position (shift of 0/1 px in x and y)."""

    head: Sprite
    eyes: tuple[tuple[Planes, ...], ...]
    """``eyes[lid][gaze + 1]``: lids open, half closed, closed; looking left, ahead, right."""
    mouths: tuple[tuple[Planes, ...], ...]
    """``mouths[shape][level]`` for each `MouthShape` and openness level."""


@dataclass(frozen=True)
class FaceLayers:
    """Cached layers of one avatar at one resolution (see the module docstring)."""

    width: int
    height: int
    scale: float
    """Pixels per unit of the 640x360 design."""
    background: Planes
    head_xy: tuple[int, int]
    """Where the head box sits at rest (even)."""
    eyes_xy: tuple[int, int]
    """Eye patch origin inside the head box (even)."""
    mouth_xy: tuple[int, int]
    """Mouth patch origin inside the head box (even)."""
    variants: tuple[HeadVariant, ...]
    """Indexed by ``2 * (dy & 1) + (dx & 1)`` for a head offset (dx, dy)."""


@functools.lru_cache(maxsize=16)
def face_layers(width: int, height: int, avatar: str = "emulator") -> FaceLayers:
    """Draw (once, cached) the layers of ``avatar`` at ``width`` x ``height`` (both even)."""
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError("width and height must be even and at least 64")
    geo = geometry(width, height, avatar)
    s, cx, cy = geo.s, geo.cx, geo.cy
    backdrop = draw_background(geo)
    hx, hy = even(cx - 106 * s), even(cy - 118 * s)
    hw, hh = even(212 * s) + 2, even(224 * s) + 2
    head = Canvas(hx - 1, hy - 1, hw + 2, hh + 2)
    pre_eyes, pre_mouth, boxes = draw_head(head, geo)
    ex, ey, _, _, mx, my, _, _ = boxes
    eyes: list[list[Canvas]] = []  # [lid][gaze + 1]
    for closure in (0.0, 0.5, 1.0):
        row = []
        for gaze in (-1, 0, 1):
            patch = pre_eyes.copy(pre_eyes.x0, pre_eyes.y0, *pre_eyes.a.shape[::-1])
            for side in (-1, 1):
                draw_eye(patch, geo, cx + side * geo.eye_dx, gaze)
                if closure:
                    draw_lid(patch, pre_eyes, geo, cx + side * geo.eye_dx, closure)
            row.append(patch)
        eyes.append(row)
    mouths: list[list[Canvas]] = []
    for shape in MouthShape:
        row = []
        for level in range(MOUTH_LEVELS):
            patch = pre_mouth.copy(pre_mouth.x0, pre_mouth.y0, *pre_mouth.a.shape[::-1])
            draw_mouth(patch, geo, shape, level / (MOUTH_LEVELS - 1))
            row.append(patch)
        mouths.append(row)
    head_yuv = Shifts.of(head)
    eyes_yuv = [[Shifts.of(p) for p in row] for row in eyes]
    mouths_yuv = [[Shifts.of(p) for p in row] for row in mouths]
    variants = [
        HeadVariant(
            head=head_yuv.sprite(px, py),
            eyes=tuple(tuple(p.opaque(px, py) for p in row) for row in eyes_yuv),
            mouths=tuple(tuple(p.opaque(px, py) for p in row) for row in mouths_yuv),
        )
        for py in (0, 1)
        for px in (0, 1)
    ]
    return FaceLayers(
        width=width,
        height=height,
        scale=s,
        background=backdrop,
        head_xy=(hx, hy),
        eyes_xy=(ex - hx, ey - hy),
        mouth_xy=(mx - hx, my - hy),
        variants=tuple(variants),
    )
