"""Drawing the synthetic avatar: backdrop and shoulders, head, eyes, eyelids, mouths.

All sizes are in units of the 640x360 design times ``s`` (`Geometry.s`); light comes from
the upper left. Colours come from a hash of the avatar's name (`palette`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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
from .speech import MouthShape

__all__ = [
    "Geometry",
    "background",
    "draw_eye",
    "draw_head",
    "draw_lid",
    "draw_mouth",
    "even",
    "geometry",
]


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
