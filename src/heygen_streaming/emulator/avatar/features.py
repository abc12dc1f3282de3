"""Drawing the avatar's moving features: eyes (with gaze), eyelids, mouths."""

from __future__ import annotations

import numpy as np

from .canvas import (
    F32,
    Canvas,
    band,
    box,
    clip01,
    coverage,
    ellipse,
    gauss,
    times,
)
from .geometry import Geometry
from .speech import MouthShape

__all__ = ["draw_eye", "draw_lid", "draw_mouth"]


def draw_eye(canvas: Canvas, geo: Geometry, ex: float, gaze: int = 0) -> None:
    """An open eye at ``ex``: sclera, iris (looking ``gaze`` -1 left, 0 ahead, 1 right),
    pupil, highlight, lashes, crease."""
    s, ey = geo.s, geo.eye_y
    rx, ry = 13.5 * s, 8 * s
    sclera = ellipse(ex, ey, rx, ry)

    def white(xx: F32, yy: F32) -> F32:
        shade = 0.78 + 0.22 * clip01((yy - (ey - ry)) / (ry * 1.2))
        out: F32 = np.asarray((246, 244, 240), np.float32) * shade[..., None]
        return out

    canvas.paint(box(ex, ey, rx, ry), sclera, white)
    ix, iy, ir = ex + (0.5 + 2.8 * gaze) * s, ey + 0.5 * s, 6.3 * s

    def iris_color(xx: F32, yy: F32) -> F32:
        r = np.hypot(xx - ix, yy - iy) / ir
        shade = 1.25 - 0.55 * r**2 - 0.25 * clip01((iy - yy) / ir)
        out: F32 = np.clip(geo.iris * shade[..., None], 0, 255)
        return out

    canvas.paint(box(ix, iy, ir, ir), times(ellipse(ix, iy, ir, ir), sclera), iris_color)
    canvas.paint(
        box(ix, iy, ir, ir), times(ellipse(ix, iy, 2.7 * s, 2.7 * s), sclera), (12, 10, 12)
    )
    hx, hy = ix - 2 * s, iy - 2.2 * s
    canvas.paint(box(hx, hy, 2, 2), ellipse(hx, hy, 1.3 * s, 1.3 * s), (255, 255, 255))

    def upper(xx: F32) -> F32:
        out: F32 = ey - ry * np.sqrt(clip01(1 - ((xx - ex) / rx) ** 2)) + 0.4 * s
        return out

    def ends(xx: F32, yy: F32) -> F32:
        out: F32 = clip01((rx + 2 * s - np.abs(xx - ex)) / (2 * s))
        return out

    lash = times(band(upper, lambda xx: 1.1 * s + 0.5 * s * ((xx - ex) / rx) ** 2), ends)
    canvas.paint(box(ex, ey, rx, ry), lash, (48, 32, 30))

    def crease(xx: F32) -> F32:
        out: F32 = ey - (ry + 4 * s) * np.sqrt(clip01(1 - ((xx - ex) / (rx + 1 * s)) ** 2))
        return out

    canvas.tint(
        box(ex, ey, rx + 2 * s, ry + 6 * s),
        lambda xx, yy: 0.15 * band(crease, lambda x: 0.8 * s + 0 * x)(xx, yy) * ends(xx, yy),
        geo.skin * 0.55,
    )


def draw_lid(canvas: Canvas, skin: Canvas, geo: Geometry, ex: float, closure: float) -> None:
    """The upper lid over the eye at ``ex``: ``closure`` 0.5 half, 1 shut; colour from ``skin``."""
    s, ey = geo.s, geo.eye_y
    rx, ry = 14.8 * s, 9.3 * s

    def half_height(xx: F32) -> F32:
        out: F32 = ry * np.sqrt(clip01(1 - ((xx - ex) / rx) ** 2))
        return out

    def edge(xx: F32) -> F32:
        r = half_height(xx)
        out: F32 = ey - r + 2 * r * closure
        return out

    def lid(xx: F32, yy: F32) -> F32:
        out: F32 = ellipse(ex, ey, rx, ry)(xx, yy) * clip01(edge(xx) - yy + 0.5)
        return out

    def lid_color(xx: F32, yy: F32) -> F32:
        shade = 0.965 + 0.035 * clip01((yy - (ey - ry)) / (2 * ry))
        out: F32 = skin.sample(xx, yy) * shade[..., None]
        return out

    canvas.paint(box(ex, ey, rx, ry), lid, lid_color)

    def line(xx: F32) -> F32:
        r = half_height(xx)
        out: F32 = ey - r + 2 * r * min(closure, 0.75)
        return out

    lash = band(line, lambda xx: 0.9 * s * clip01((rx + s - np.abs(xx - ex)) / (3 * s)))
    canvas.paint(box(ex, ey, rx, ry), lash, (52, 34, 32))


def draw_mouth(canvas: Canvas, geo: Geometry, shape: MouthShape, openness: float) -> None:
    """Lips, and for an open mouth its inside, teeth and tongue."""
    s, cx, my = geo.s, geo.cx, geo.mouth_y
    o = float(openness)
    w = {MouthShape.WIDE: 19 + 5 * o, MouthShape.OPEN: 19 + o, MouthShape.ROUND: 19 - 8 * o}[
        shape
    ] * s
    h = o * {MouthShape.WIDE: 6.0, MouthShape.OPEN: 11.0, MouthShape.ROUND: 9.5}[shape] * s
    curve = (2.2 - 1.6 * o) * s
    thick = 1.2 * o * s if shape == MouthShape.ROUND else 0.0

    def warp(xx: F32, yy: F32) -> tuple[F32, F32]:
        dx = xx - cx
        return dx, yy - my + curve * (dx / w) ** 2

    lip = geo.skin * 0.45 + np.asarray((190, 78, 88), np.float32) * 0.55
    rx_out = w + 2.5 * s
    box = (cx - rx_out - 3 * s, my - h - 8 * s, cx + rx_out + 3 * s, my + h + 9 * s)

    def lips(xx: F32, yy: F32) -> F32:
        dx, dy = warp(xx, yy)
        ry = np.where(dy < 0, h + 3.2 * s + thick, h + 4.6 * s + thick)
        return coverage(np.hypot(dx / rx_out, dy / ry) - 1.0)

    def lip_color(xx: F32, yy: F32) -> F32:
        dx, dy = warp(xx, yy)
        shade = np.where(dy < 0, 0.86, 1.0) + 0.22 * np.exp(
            -0.5 * ((dx / (8 * s)) ** 2 + ((dy - h - 2.4 * s) / (1.6 * s)) ** 2)
        )
        out: F32 = np.clip(lip * shade[..., None], 0, 255)
        return out

    canvas.paint(box, lips, lip_color)
    # Corners of the mouth.
    for side in (-1, 1):
        canvas.tint(
            box,
            gauss(cx + side * (rx_out - 0.5 * s), my - curve, 1.8 * s, 1.6 * s, 0.4),
            geo.skin * 0.55,
        )
    if h < 0.6 * s:

        def seam(xx: F32) -> F32:
            out: F32 = my - curve * ((xx - cx) / w) ** 2
            return out

        def seam_half(xx: F32) -> F32:
            out: F32 = 0.75 * s * clip01((w - np.abs(xx - cx)) / (4 * s)) + 0.2
            return out

        canvas.paint(box, band(seam, seam_half), (95, 38, 44))
        return

    def cavity_field(xx: F32, yy: F32) -> F32:
        dx, dy = warp(xx, yy)
        out: F32 = np.hypot(dx / (w * 0.92), dy / h) - 1.0
        return out

    def cavity(xx: F32, yy: F32) -> F32:
        return coverage(cavity_field(xx, yy))

    def dark(xx: F32, yy: F32) -> F32:
        depth = clip01(-cavity_field(xx, yy))
        out: F32 = np.asarray((70, 16, 26), np.float32) * (1 - 0.45 * depth)[..., None]
        return out

    canvas.paint(box, cavity, dark)
    if o > 0.35 and shape != MouthShape.WIDE:
        canvas.paint(
            box, times(cavity, ellipse(cx, my + 0.8 * h, 0.55 * w, 0.45 * h)), (170, 66, 80)
        )
    if o > 0.2:
        teeth_h = min(0.5 * h, 4.2 * s)

        def upper_teeth(xx: F32, yy: F32) -> F32:
            _, dy = warp(xx, yy)
            out: F32 = cavity(xx, yy) * clip01(-h + teeth_h - dy + 0.5)
            return out

        canvas.paint(box, upper_teeth, (238, 235, 226))
        if shape == MouthShape.WIDE:

            def lower_teeth(xx: F32, yy: F32) -> F32:
                _, dy = warp(xx, yy)
                out: F32 = cavity(xx, yy) * clip01(dy - (h - min(0.35 * h, 2.5 * s)) + 0.5)
                return out

            canvas.paint(box, lower_teeth, (225, 222, 214))
