"""Drawing the avatar's static parts: backdrop and shoulders, and the head."""

from __future__ import annotations

from typing import Any

import numpy as np

from .canvas import (
    F32,
    Canvas,
    Planes,
    band,
    box,
    clip01,
    coverage,
    ellipse,
    gauss,
    planes,
    times,
    yuv,
)
from .features import draw_eye, draw_mouth
from .geometry import Geometry, even
from .speech import MouthShape

__all__ = ["background", "draw_head"]


def _backdrop(geo: Geometry, xs: F32, ys: F32) -> tuple[F32, F32]:
    """Backdrop weights at pixel centres ``xs`` x ``ys``: (shade of the backdrop colour, glow).

    Darker downwards, a soft light behind the head, a vignette; separable, so cheap.
    """
    w, h = geo.width, geo.height
    t = (ys / h)[:, None]
    u = ((xs - geo.cx) / (w / 2))[None, :]
    vignette = 1 - 0.28 * u**2 - 0.12 * t**2
    sigma = 0.3 * w
    glow_x = np.exp(-0.5 * ((xs - geo.cx + 0.12 * w) / sigma) ** 2)[None, :]
    glow_y = np.exp(-0.5 * ((ys - 0.35 * h) / sigma) ** 2)[:, None]
    shade: F32 = (1.15 - 0.5 * t) * vignette
    glow: F32 = glow_x * glow_y * vignette
    return shade, glow


def background(geo: Geometry) -> Planes:
    """The static picture: backdrop, neck, shoulders and shirt."""
    w, h, s, cx, cy = geo.width, geo.height, geo.s, geo.cx, geo.cy
    bg, shirt = geo.backdrop, geo.shirt
    light = bg * 0.22 + 14
    # The backdrop straight in yuv420p (it is affine in RGB): 2-D arithmetic only.
    yuv_of = [p[0] for p in yuv(np.stack([bg, light])[None].astype(np.float32))]
    out = []
    for i, step in enumerate((1, 2, 2)):
        xs = np.arange(0, w, step, dtype=np.float32) + step / 2
        ys = np.arange(0, h, step, dtype=np.float32) + step / 2
        shade, glow = _backdrop(geo, xs, ys)
        offset = 16.0 if i == 0 else 128.0
        plane = offset + shade * (yuv_of[i][0] - offset) + glow * (yuv_of[i][1] - offset)
        out.append(np.clip(np.rint(plane), 0, 255).astype(np.uint8))
    result = Planes(out[0], out[1], out[2])
    # The figure below the head, painted in RGB on its own box and pasted in.
    x0, y0 = max(0, even(cx - 240 * s)), even(cy + 40 * s)
    x1 = min(w, even(cx + 240 * s) + 2)
    canvas = Canvas(x0, y0, x1 - x0, h - y0)
    shade, glow = _backdrop(
        geo,
        np.arange(x0, x1, dtype=np.float32) + 0.5,
        np.arange(y0, h, dtype=np.float32) + 0.5,
    )
    canvas.rgb[:] = shade[..., None] * bg + glow[..., None] * light
    canvas.a[:] = 1.0

    # Neck: behind the chin, shaded at its sides and under the jaw.
    def neck_color(xx: F32, yy: F32) -> F32:
        side = 1 - 0.25 * ((xx - cx) / (27 * s)) ** 2
        jaw = 1 - 0.38 * np.exp(-(((yy - (cy + 104 * s)) / (12 * s)) ** 2))
        out: F32 = geo.skin * (0.9 * side * jaw)[..., None]
        return out

    def neck(xx: F32, yy: F32) -> F32:
        out: F32 = clip01(27 * s - np.abs(xx - cx) + 0.5) * clip01(yy - (cy + 40 * s))
        return out

    canvas.paint((cx - 30 * s, cy + 40 * s, cx + 30 * s, h), neck, neck_color)

    # Shoulders and shirt with a V neckline.
    def shoulder_line(xx: F32) -> F32:
        u = np.abs(xx - cx) / (150 * s)
        out: F32 = cy + 114 * s + 26 * s * u**2 + 260 * s * np.maximum(0, u - 0.9) ** 2
        return out

    def v_neck(xx: F32, yy: F32) -> F32:
        out: F32 = clip01((24 * s - 0.6 * (yy - (cy + 110 * s))) - np.abs(xx - cx) + 0.5)
        return out

    def shirt_shape(xx: F32, yy: F32) -> F32:
        out: F32 = coverage(shoulder_line(xx) - yy) * (1 - v_neck(xx, yy))
        return out

    def shirt_color(xx: F32, yy: F32) -> F32:
        u = (xx - cx) / (200 * s)
        light = 1.08 - 0.30 * u**2 - 0.25 * clip01((yy - (cy + 120 * s)) / (h - cy))
        light = light + 0.12 * np.exp(
            -(((xx - (cx - 90 * s)) / (40 * s)) ** 2 + ((yy - (cy + 140 * s)) / (20 * s)) ** 2)
        )
        out: F32 = np.clip(shirt * light[..., None], 0, 255)
        return out

    canvas.paint((cx - 240 * s, cy + 110 * s, cx + 240 * s, h), shirt_shape, shirt_color)
    # The neckline's edge, a soft shade inside the V.
    canvas.tint(
        (cx - 25 * s, cy + 110 * s, cx + 25 * s, cy + 160 * s),
        lambda xx, yy: (
            0.45
            * v_neck(xx, yy)
            * clip01(1 - (24 * s - 0.6 * (yy - (cy + 110 * s)) - np.abs(xx - cx)) / (4 * s))
        ),
        geo.skin * 0.6,
    )
    planes(canvas.rgb).paste_into(result, x0, y0)  # opaque: premultiplied is straight
    return result


def draw_head(canvas: Canvas, geo: Geometry) -> tuple[Canvas, Canvas, tuple[int, ...]]:
    """Draw the head; return copies taken before the eyes and mouth, and their boxes."""
    s, cx, cy = geo.s, geo.cx, geo.cy
    hair_y = cy - 14 * s
    cut = cy + 46 * s

    def back_hair(xx: F32, yy: F32) -> F32:
        out: F32 = ellipse(cx, hair_y, 96 * s, 100 * s)(xx, yy) * clip01((cut - yy) / (3 * s))
        return out

    canvas.paint(box(cx, hair_y, 96 * s, 100 * s), back_hair, geo.hair_at)
    for side in (-1, 1):
        ear_x = cx + side * 78 * s
        canvas.paint(
            box(ear_x, cy + 4 * s, 11 * s, 18 * s),
            ellipse(ear_x, cy + 4 * s, 11 * s, 18 * s),
            lambda xx, yy: geo.skin_at(xx, yy, 0.93),
        )
        canvas.tint(
            box(ear_x, cy + 4 * s, 6 * s, 11 * s),
            times(
                ellipse(ear_x + side * 1.5 * s, cy + 4 * s, 5.5 * s, 11 * s),
                lambda xx, yy: xx * 0 + 0.45,
            ),
            geo.skin * 0.62,
        )

    def face(xx: F32, yy: F32) -> F32:
        dy = yy - cy
        ry = np.where(dy < 0, 94 * s, 97 * s)
        rx = 78 * s * (1 - 0.14 * clip01(dy / (100 * s)) ** 2)
        return coverage(np.hypot((xx - cx) / rx, dy / ry) - 1.0)

    canvas.paint(box(cx, cy, 78 * s, 100 * s), face, geo.skin_at)
    blush = np.minimum(geo.skin * np.asarray((1.1, 0.78, 0.8), np.float32), 255)
    tints: list[tuple[float, float, float, float, float, Any]] = [
        (cx - 40 * s, cy + 26 * s, 11 * s, 9 * s, 0.20, blush),
        (cx + 40 * s, cy + 26 * s, 11 * s, 9 * s, 0.20, blush),
        (cx - geo.eye_dx, geo.eye_y - 1 * s, 17 * s, 10 * s, 0.25, geo.skin * 0.72),
        (cx + geo.eye_dx, geo.eye_y - 1 * s, 17 * s, 10 * s, 0.25, geo.skin * 0.72),
        (cx + 6 * s, cy + 10 * s, 3.2 * s, 11 * s, 0.28, geo.skin * 0.68),
        (cx - 1 * s, cy + 17 * s, 4 * s, 4 * s, 0.30, np.minimum(geo.skin * 1.15, 255)),
        (cx - 6 * s, cy + 24 * s, 2.6 * s, 1.6 * s, 0.55, geo.skin * 0.5),
        (cx + 6 * s, cy + 24 * s, 2.6 * s, 1.6 * s, 0.55, geo.skin * 0.5),
        (cx, cy + 29 * s, 8 * s, 2.2 * s, 0.15, geo.skin * 0.7),
        (cx, cy + 80 * s, 14 * s, 8 * s, 0.12, np.minimum(geo.skin * 1.12, 255)),
        (cx, cy + 66 * s, 12 * s, 2.5 * s, 0.12, geo.skin * 0.7),
    ]
    for x0, y0, sx, sy, amount, color in tints:
        canvas.tint(box(x0, y0, 3 * sx, 3 * sy), gauss(x0, y0, sx, sy, amount), color)

    # Fringe: hair over the forehead, swept from a parting right of centre.
    part = cx + 25 * s

    def fringe_line(xx: F32) -> F32:
        left = cy - 70 * s + 50 * s * ((xx - part) / (105 * s)) ** 2
        right = cy - 70 * s + 40 * s * ((xx - part) / (55 * s)) ** 2
        out: F32 = np.where(xx < part, left, right)
        return out

    def fringe(xx: F32, yy: F32) -> F32:
        out: F32 = ellipse(cx, hair_y, 92 * s, 96 * s)(xx, yy) * clip01(fringe_line(xx) - yy + 0.5)
        return out

    canvas.paint(box(cx, hair_y, 92 * s, 96 * s), fringe, geo.hair_at)
    for side in (-1, 1):
        bx, by = cx + side * (geo.eye_dx + 2 * s), geo.eye_y - 16 * s

        def brow_center(xx: F32, bx: float = bx, by: float = by) -> F32:
            out: F32 = by - 3 * s * (1 - ((xx - bx) / (16 * s)) ** 2)
            return out

        def brow_half(xx: F32, bx: float = bx, side: int = side) -> F32:
            u = (xx - bx) / (16 * s)
            out: F32 = 1.9 * s * (1 - 0.4 * (side * u)) * clip01((1 - np.abs(u)) * 4)
            return out

        canvas.paint(box(bx, by, 18 * s, 6 * s), band(brow_center, brow_half), geo.hair * 0.8)

    eyes_box = (even(cx - 50 * s), even(geo.eye_y - 14 * s), even(100 * s) + 2, even(28 * s))
    mouth_box = (even(cx - 34 * s), even(geo.mouth_y - 22 * s), even(68 * s) + 2, even(48 * s))
    pre_eyes = canvas.copy(eyes_box[0] - 1, eyes_box[1] - 1, eyes_box[2] + 2, eyes_box[3] + 2)
    for side in (-1, 1):
        draw_eye(canvas, geo, cx + side * geo.eye_dx)
    pre_mouth = canvas.copy(mouth_box[0] - 1, mouth_box[1] - 1, mouth_box[2] + 2, mouth_box[3] + 2)
    draw_mouth(canvas, geo, MouthShape.OPEN, 0.0)
    return pre_eyes, pre_mouth, (*eyes_box, *mouth_box)
