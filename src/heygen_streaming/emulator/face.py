"""The synthetic avatar's cached layers, drawn once per (width, height, avatar) with numpy.

Everything is painted in floating-point RGB with anti-aliased edges (each shape's coverage
comes from a signed-distance estimate) and soft shading (gradients, Gaussian tints), then
converted to yuv420p (BT.601, limited range) and cut into what `AvatarRenderer` composes
per frame:

- ``background``: backdrop, shoulders and neck (static);
- per phase variant (the head shifted by 0 or 1 px in x and y, so it moves in 1 px steps
  although yuv420p only allows even positions): the ``head`` sprite (hair, ears, face,
  brows, open eyes, closed mouth) with an alpha edge, two eyelid patches (half closed,
  closed) and one mouth patch per `MouthShape` and openness level; patches are opaque
  and pasted inside the face.

Blending a sprite costs a masked copy plus a few thousand edge pixels: no per-pixel Python,
nothing per frame in floating point.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .speech import MouthShape

__all__ = ["MOUTH_LEVELS", "FaceLayers", "Planes", "Sprite", "face_layers"]

MOUTH_LEVELS = 8
"""Openness levels per mouth shape (level 0 is the closed mouth)."""

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.floating[Any]]  # float32 in practice
Color = tuple[float, float, float] | F32
Shape = Callable[[F32, F32], F32]
Paint = Color | Callable[[F32, F32], F32]


@dataclass(frozen=True)
class Planes:
    """A yuv420p picture (or patch) as three arrays; even origin and size."""

    y: U8
    u: U8
    v: U8

    def paste_into(self, dst: Planes, x: int, y: int) -> None:
        """Copy this patch into ``dst`` at (x, y) (even)."""
        h, w = self.y.shape
        dst.y[y : y + h, x : x + w] = self.y
        dst.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.u
        dst.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = self.v


@dataclass(frozen=True)
class _AlphaPlane:
    values: U8
    opaque: npt.NDArray[np.bool_]
    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    alpha: npt.NDArray[np.uint16]  # 1..255 of 256, at (rows, cols)
    edge: npt.NDArray[np.uint16]  # values at (rows, cols)

    @classmethod
    def build(cls, values: F32, alpha: F32) -> _AlphaPlane:
        q = np.rint(alpha * 256).astype(np.uint16)
        opaque = q >= 255
        rows, cols = np.nonzero((q > 0) & ~opaque)
        vals = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return cls(vals, opaque, rows, cols, q[rows, cols], vals[rows, cols].astype(np.uint16))

    def blend_into(self, dst: U8) -> None:
        np.copyto(dst, self.values, where=self.opaque)
        if self.rows.size:
            under = dst[self.rows, self.cols].astype(np.uint16)
            mixed = (under * (256 - self.alpha) + self.edge * self.alpha) >> 8
            dst[self.rows, self.cols] = mixed.astype(np.uint8)


@dataclass(frozen=True)
class Sprite:
    """A yuv420p patch with an alpha edge (opaque inside, blended at the border)."""

    y: _AlphaPlane
    u: _AlphaPlane
    v: _AlphaPlane

    def blend_into(self, dst: Planes, x: int, y: int) -> None:
        """Composite this sprite over ``dst`` at (x, y) (even, fully inside ``dst``)."""
        h, w = self.y.values.shape
        self.y.blend_into(dst.y[y : y + h, x : x + w])
        cy, cx, ch, cw = y // 2, x // 2, h // 2, w // 2
        self.u.blend_into(dst.u[cy : cy + ch, cx : cx + cw])
        self.v.blend_into(dst.v[cy : cy + ch, cx : cx + cw])


@dataclass(frozen=True)
class HeadVariant:
    """The head and its patches for one sub-position (shift of 0/1 px in x and y)."""

    head: Sprite
    lids: tuple[Planes, Planes]
    """Half-closed and closed eyes."""
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


def _even(value: float) -> int:
    return int(value) // 2 * 2


def _palette(avatar: str) -> tuple[tuple[float, float, float], ...]:
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


# --- painting on a premultiplied RGBA float canvas ------------------------------------


class _Canvas:
    """Premultiplied RGBA (float32) whose pixel (r, c) is frame pixel (y0 + r, x0 + c)."""

    def __init__(self, x0: int, y0: int, w: int, h: int) -> None:
        self.x0, self.y0 = x0, y0
        self.rgb = np.zeros((h, w, 3), np.float32)
        self.a = np.zeros((h, w), np.float32)

    def copy(self, x0: int, y0: int, w: int, h: int) -> _Canvas:
        """A copy of the frame rectangle (x0, y0, w, h), which must lie inside."""
        out = _Canvas(x0, y0, w, h)
        r, c = y0 - self.y0, x0 - self.x0
        out.rgb[:] = self.rgb[r : r + h, c : c + w]
        out.a[:] = self.a[r : r + h, c : c + w]
        return out

    def _grid(self, box: tuple[float, float, float, float]) -> tuple[Any, F32, F32] | None:
        h, w = self.a.shape
        c0 = max(0, int(np.floor(box[0])) - self.x0)
        r0 = max(0, int(np.floor(box[1])) - self.y0)
        c1 = min(w, int(np.ceil(box[2])) - self.x0 + 1)
        r1 = min(h, int(np.ceil(box[3])) - self.y0 + 1)
        if c1 - c0 < 2 or r1 - r0 < 2:
            return None
        xs = np.arange(c0, c1, dtype=np.float32) + self.x0 + 0.5
        ys = np.arange(r0, r1, dtype=np.float32) + self.y0 + 0.5
        yy, xx = np.meshgrid(ys, xs, indexing="ij")
        return (slice(r0, r1), slice(c0, c1)), xx, yy

    def paint(self, box: tuple[float, float, float, float], shape: Shape, color: Paint) -> None:
        """Paint ``color`` (RGB or a function of x, y) over ``shape``'s coverage in ``box``."""
        grid = self._grid(box)
        if grid is None:
            return
        sl, xx, yy = grid
        cov = shape(xx, yy)
        col = color(xx, yy) if callable(color) else np.asarray(color, np.float32)
        self.rgb[sl] = self.rgb[sl] * (1 - cov)[..., None] + col * cov[..., None]
        self.a[sl] = self.a[sl] * (1 - cov) + cov

    def tint(self, box: tuple[float, float, float, float], weight: Shape, color: Paint) -> None:
        """Mix the existing colour towards ``color`` by ``weight`` (alpha unchanged)."""
        grid = self._grid(box)
        if grid is None:
            return
        sl, xx, yy = grid
        wgt = weight(xx, yy)[..., None]
        col = color(xx, yy) if callable(color) else np.asarray(color, np.float32)
        a = self.a[sl][..., None]
        self.rgb[sl] += (col * a - self.rgb[sl]) * wgt

    def sample(self, xx: F32, yy: F32) -> F32:
        """Straight colour at frame coordinates (pixel centres inside this canvas)."""
        r = (yy - self.y0).astype(np.intp)
        c = (xx - self.x0).astype(np.intp)
        out: F32 = self.rgb[r, c] / np.maximum(self.a[r, c], 1e-6)[..., None]
        return out

    def straight(self) -> F32:
        """Colour without premultiplication (0 where transparent)."""
        out: F32 = self.rgb / np.maximum(self.a, 1e-6)[..., None]
        return out


def _coverage(field: F32) -> F32:
    """Anti-aliased coverage of ``field < 0`` (a signed-distance estimate from its gradient)."""
    gy, gx = np.gradient(field)
    dist = field / np.maximum(np.hypot(gx, gy), 1e-6)
    out: F32 = np.clip(0.5 - dist, 0.0, 1.0).astype(np.float32)
    return out


def _ellipse(x0: float, y0: float, rx: float, ry: float) -> Shape:
    def shape(xx: F32, yy: F32) -> F32:
        return _coverage(np.hypot((xx - x0) / rx, (yy - y0) / ry) - 1.0)

    return shape


def _box(
    x0: float, y0: float, rx: float, ry: float, pad: float = 3.0
) -> tuple[float, float, float, float]:
    return (x0 - rx - pad, y0 - ry - pad, x0 + rx + pad, y0 + ry + pad)


def _gauss(x0: float, y0: float, sx: float, sy: float, amount: float) -> Shape:
    def weight(xx: F32, yy: F32) -> F32:
        out: F32 = amount * np.exp(-0.5 * (((xx - x0) / sx) ** 2 + ((yy - y0) / sy) ** 2))
        return out

    return weight


def _band(center: Callable[[F32], F32], half: Callable[[F32], F32]) -> Shape:
    """A stroke around the curve y = center(x), ``half(x)`` thick on each side."""

    def shape(xx: F32, yy: F32) -> F32:
        hw = half(xx)
        out: F32 = _clip01(hw - np.abs(yy - center(xx)) + 0.5) * _clip01(2 * hw)
        return out

    return shape


def _times(*shapes: Shape) -> Shape:
    def shape(xx: F32, yy: F32) -> F32:
        out = shapes[0](xx, yy)
        for other in shapes[1:]:
            out = out * other(xx, yy)
        return out

    return shape


def _clip01(x: Any) -> Any:
    return np.clip(x, 0.0, 1.0)


# --- RGB -> yuv420p ----------------------------------------------------------------------


def _yuv(rgb: F32) -> tuple[F32, F32, F32]:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y, u, v


def _halve(plane: F32) -> F32:
    out: F32 = (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2]) / 4
    return out


def _planes(rgb: F32) -> Planes:
    y, u, v = _yuv(rgb)
    q = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, _halve(u), _halve(v))]
    return Planes(q[0], q[1], q[2])


def _sprite(canvas: _Canvas) -> Sprite:
    a = canvas.a
    y, u, v = _yuv(canvas.straight())
    h, w = a.shape
    a4 = a.reshape(h // 2, 2, w // 2, 2)
    weight = a4.sum(axis=(1, 3))

    def chroma(plane: F32) -> F32:
        total = (plane * a).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
        out: F32 = total / np.maximum(weight, 1e-6)
        return out

    return Sprite(
        _AlphaPlane.build(y, a),
        _AlphaPlane.build(chroma(u), weight / 4),
        _AlphaPlane.build(chroma(v), weight / 4),
    )


def _shifted(canvas: _Canvas, px: int, py: int) -> _Canvas:
    """The canvas (drawn with a 1 px margin) as seen shifted right ``px`` and down ``py``."""
    h, w = canvas.a.shape
    out = _Canvas(canvas.x0 + 1, canvas.y0 + 1, w - 2, h - 2)
    out.rgb[:] = canvas.rgb[1 - py : h - 1 - py, 1 - px : w - 1 - px]
    out.a[:] = canvas.a[1 - py : h - 1 - py, 1 - px : w - 1 - px]
    return out


# --- the drawing -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    width: int
    height: int
    s: float
    cx: float
    cy: float
    eye_y: float
    eye_dx: float
    mouth_y: float
    skin: F32
    hair: F32
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
        sheen = 0.45 * np.exp(-(((rho - 0.8) / 0.08) ** 2)) * _clip01(-(0.6 * nx + 0.8 * ny))
        light = np.minimum(self.hair * 1.7 + 45, 255)
        out: F32 = self.hair * grad * (1 - sheen[..., None]) + light * sheen[..., None]
        return out


def _geometry(width: int, height: int, avatar: str) -> tuple[_Geometry, tuple[float, ...]]:
    bg, skin, hair, shirt, iris = _palette(avatar)
    s = min(height / 360.0, width / 640.0)
    cx, cy = width / 2.0, height * 0.44
    geo = _Geometry(
        width=width,
        height=height,
        s=s,
        cx=cx,
        cy=cy,
        eye_y=cy - 14 * s,
        eye_dx=31 * s,
        mouth_y=cy + 50 * s,
        skin=np.asarray(skin, np.float32),
        hair=np.asarray(hair, np.float32),
        iris=np.asarray(iris, np.float32),
    )
    return geo, (*bg, *shirt)


def _background(geo: _Geometry, bg: F32, shirt: F32) -> Planes:
    w, h, s, cx, cy = geo.width, geo.height, geo.s, geo.cx, geo.cy
    canvas = _Canvas(0, 0, w, h)
    # Backdrop: darker downwards, a soft light behind the head, a vignette (separable terms).
    t = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    u = ((np.arange(w, dtype=np.float32) + 0.5 - cx) / (w / 2))[None, :]
    vignette = 1 - 0.28 * u**2 - 0.12 * t**2
    sigma = 0.3 * w
    glow_x = np.exp(-0.5 * ((u * (w / 2) + 0.12 * w) / sigma) ** 2)
    glow_y = np.exp(-0.5 * ((t * h - 0.35 * h) / sigma) ** 2)
    shade = (1.15 - 0.5 * t) * vignette
    glow = glow_x * glow_y * vignette
    canvas.rgb[:] = shade[..., None] * bg + glow[..., None] * (bg * 0.22 + 14)
    np.clip(canvas.rgb, 0, 255, out=canvas.rgb)
    canvas.a[:] = 1.0

    # Neck: behind the chin, shaded at its sides and under the jaw.
    def neck_color(xx: F32, yy: F32) -> F32:
        side = 1 - 0.25 * ((xx - cx) / (27 * s)) ** 2
        jaw = 1 - 0.38 * np.exp(-(((yy - (cy + 104 * s)) / (12 * s)) ** 2))
        out: F32 = geo.skin * (0.9 * side * jaw)[..., None]
        return out

    def neck(xx: F32, yy: F32) -> F32:
        out: F32 = _clip01(27 * s - np.abs(xx - cx) + 0.5) * _clip01(yy - (cy + 40 * s))
        return out

    canvas.paint((cx - 30 * s, cy + 40 * s, cx + 30 * s, h), neck, neck_color)

    # Shoulders and shirt with a V neckline.
    def shoulder_line(xx: F32) -> F32:
        u = np.abs(xx - cx) / (150 * s)
        out: F32 = cy + 114 * s + 26 * s * u**2 + 260 * s * np.maximum(0, u - 0.9) ** 2
        return out

    def v_neck(xx: F32, yy: F32) -> F32:
        out: F32 = _clip01((24 * s - 0.6 * (yy - (cy + 110 * s))) - np.abs(xx - cx) + 0.5)
        return out

    def shirt_shape(xx: F32, yy: F32) -> F32:
        out: F32 = _coverage(shoulder_line(xx) - yy) * (1 - v_neck(xx, yy))
        return out

    def shirt_color(xx: F32, yy: F32) -> F32:
        u = (xx - cx) / (200 * s)
        light = 1.08 - 0.30 * u**2 - 0.25 * _clip01((yy - (cy + 120 * s)) / (h - cy))
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
            * _clip01(1 - (24 * s - 0.6 * (yy - (cy + 110 * s)) - np.abs(xx - cx)) / (4 * s))
        ),
        geo.skin * 0.6,
    )
    return _planes(canvas.rgb)  # opaque: premultiplied is straight


def _draw_eye(canvas: _Canvas, geo: _Geometry, ex: float) -> None:
    s, ey = geo.s, geo.eye_y
    rx, ry = 13.5 * s, 8 * s
    sclera = _ellipse(ex, ey, rx, ry)

    def white(xx: F32, yy: F32) -> F32:
        shade = 0.78 + 0.22 * _clip01((yy - (ey - ry)) / (ry * 1.2))
        out: F32 = np.asarray((246, 244, 240), np.float32) * shade[..., None]
        return out

    canvas.paint(_box(ex, ey, rx, ry), sclera, white)
    ix, iy, ir = ex + 0.5 * s, ey + 0.5 * s, 6.3 * s

    def iris_color(xx: F32, yy: F32) -> F32:
        r = np.hypot(xx - ix, yy - iy) / ir
        shade = 1.25 - 0.55 * r**2 - 0.25 * _clip01((iy - yy) / ir)
        out: F32 = np.clip(geo.iris * shade[..., None], 0, 255)
        return out

    canvas.paint(_box(ix, iy, ir, ir), _times(_ellipse(ix, iy, ir, ir), sclera), iris_color)
    canvas.paint(
        _box(ix, iy, ir, ir), _times(_ellipse(ix, iy, 2.7 * s, 2.7 * s), sclera), (12, 10, 12)
    )
    hx, hy = ix - 2 * s, iy - 2.2 * s
    canvas.paint(_box(hx, hy, 2, 2), _ellipse(hx, hy, 1.3 * s, 1.3 * s), (255, 255, 255))

    def upper(xx: F32) -> F32:
        out: F32 = ey - ry * np.sqrt(_clip01(1 - ((xx - ex) / rx) ** 2)) + 0.4 * s
        return out

    def ends(xx: F32, yy: F32) -> F32:
        out: F32 = _clip01((rx + 2 * s - np.abs(xx - ex)) / (2 * s))
        return out

    lash = _times(_band(upper, lambda xx: 1.1 * s + 0.5 * s * ((xx - ex) / rx) ** 2), ends)
    canvas.paint(_box(ex, ey, rx, ry), lash, (48, 32, 30))

    def crease(xx: F32) -> F32:
        out: F32 = ey - (ry + 4 * s) * np.sqrt(_clip01(1 - ((xx - ex) / (rx + 1 * s)) ** 2))
        return out

    canvas.tint(
        _box(ex, ey, rx + 2 * s, ry + 6 * s),
        lambda xx, yy: 0.15 * _band(crease, lambda x: 0.8 * s + 0 * x)(xx, yy) * ends(xx, yy),
        geo.skin * 0.55,
    )


def _draw_lid(canvas: _Canvas, skin: _Canvas, geo: _Geometry, ex: float, closure: float) -> None:
    s, ey = geo.s, geo.eye_y
    rx, ry = 14.8 * s, 9.3 * s

    def half_height(xx: F32) -> F32:
        out: F32 = ry * np.sqrt(_clip01(1 - ((xx - ex) / rx) ** 2))
        return out

    def edge(xx: F32) -> F32:
        r = half_height(xx)
        out: F32 = ey - r + 2 * r * closure
        return out

    def lid(xx: F32, yy: F32) -> F32:
        out: F32 = _ellipse(ex, ey, rx, ry)(xx, yy) * _clip01(edge(xx) - yy + 0.5)
        return out

    def lid_color(xx: F32, yy: F32) -> F32:
        shade = 0.965 + 0.035 * _clip01((yy - (ey - ry)) / (2 * ry))
        out: F32 = skin.sample(xx, yy) * shade[..., None]
        return out

    canvas.paint(_box(ex, ey, rx, ry), lid, lid_color)

    def line(xx: F32) -> F32:
        r = half_height(xx)
        out: F32 = ey - r + 2 * r * min(closure, 0.75)
        return out

    lash = _band(line, lambda xx: 0.9 * s * _clip01((rx + s - np.abs(xx - ex)) / (3 * s)))
    canvas.paint(_box(ex, ey, rx, ry), lash, (52, 34, 32))


def _draw_mouth(canvas: _Canvas, geo: _Geometry, shape: MouthShape, openness: float) -> None:
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
        return _coverage(np.hypot(dx / rx_out, dy / ry) - 1.0)

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
            _gauss(cx + side * (rx_out - 0.5 * s), my - curve, 1.8 * s, 1.6 * s, 0.4),
            geo.skin * 0.55,
        )
    if h < 0.6 * s:

        def seam(xx: F32) -> F32:
            out: F32 = my - curve * ((xx - cx) / w) ** 2
            return out

        def seam_half(xx: F32) -> F32:
            out: F32 = 0.75 * s * _clip01((w - np.abs(xx - cx)) / (4 * s)) + 0.2
            return out

        canvas.paint(box, _band(seam, seam_half), (95, 38, 44))
        return

    def cavity_field(xx: F32, yy: F32) -> F32:
        dx, dy = warp(xx, yy)
        out: F32 = np.hypot(dx / (w * 0.92), dy / h) - 1.0
        return out

    def cavity(xx: F32, yy: F32) -> F32:
        return _coverage(cavity_field(xx, yy))

    def dark(xx: F32, yy: F32) -> F32:
        depth = _clip01(-cavity_field(xx, yy))
        out: F32 = np.asarray((70, 16, 26), np.float32) * (1 - 0.45 * depth)[..., None]
        return out

    canvas.paint(box, cavity, dark)
    if o > 0.35 and shape != MouthShape.WIDE:
        canvas.paint(
            box, _times(cavity, _ellipse(cx, my + 0.8 * h, 0.55 * w, 0.45 * h)), (170, 66, 80)
        )
    if o > 0.2:
        teeth_h = min(0.5 * h, 4.2 * s)

        def upper_teeth(xx: F32, yy: F32) -> F32:
            _, dy = warp(xx, yy)
            out: F32 = cavity(xx, yy) * _clip01(-h + teeth_h - dy + 0.5)
            return out

        canvas.paint(box, upper_teeth, (238, 235, 226))
        if shape == MouthShape.WIDE:

            def lower_teeth(xx: F32, yy: F32) -> F32:
                _, dy = warp(xx, yy)
                out: F32 = cavity(xx, yy) * _clip01(dy - (h - min(0.35 * h, 2.5 * s)) + 0.5)
                return out

            canvas.paint(box, lower_teeth, (225, 222, 214))


def _draw_head(canvas: _Canvas, geo: _Geometry) -> tuple[_Canvas, _Canvas, tuple[int, ...]]:
    """Draw the head; return copies taken before the eyes and mouth, and their boxes."""
    s, cx, cy = geo.s, geo.cx, geo.cy
    hair_y = cy - 14 * s
    cut = cy + 46 * s

    def back_hair(xx: F32, yy: F32) -> F32:
        out: F32 = _ellipse(cx, hair_y, 96 * s, 100 * s)(xx, yy) * _clip01((cut - yy) / (3 * s))
        return out

    canvas.paint(_box(cx, hair_y, 96 * s, 100 * s), back_hair, geo.hair_at)
    for side in (-1, 1):
        ear_x = cx + side * 78 * s
        canvas.paint(
            _box(ear_x, cy + 4 * s, 11 * s, 18 * s),
            _ellipse(ear_x, cy + 4 * s, 11 * s, 18 * s),
            lambda xx, yy: geo.skin_at(xx, yy, 0.93),
        )
        canvas.tint(
            _box(ear_x, cy + 4 * s, 6 * s, 11 * s),
            _times(
                _ellipse(ear_x + side * 1.5 * s, cy + 4 * s, 5.5 * s, 11 * s),
                lambda xx, yy: xx * 0 + 0.45,
            ),
            geo.skin * 0.62,
        )

    def face(xx: F32, yy: F32) -> F32:
        dy = yy - cy
        ry = np.where(dy < 0, 94 * s, 97 * s)
        rx = 78 * s * (1 - 0.14 * _clip01(dy / (100 * s)) ** 2)
        return _coverage(np.hypot((xx - cx) / rx, dy / ry) - 1.0)

    canvas.paint(_box(cx, cy, 78 * s, 100 * s), face, geo.skin_at)
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
        canvas.tint(_box(x0, y0, 3 * sx, 3 * sy), _gauss(x0, y0, sx, sy, amount), color)

    # Fringe: hair over the forehead, swept from a parting right of centre.
    part = cx + 25 * s

    def fringe_line(xx: F32) -> F32:
        left = cy - 70 * s + 50 * s * ((xx - part) / (105 * s)) ** 2
        right = cy - 70 * s + 40 * s * ((xx - part) / (55 * s)) ** 2
        out: F32 = np.where(xx < part, left, right)
        return out

    def fringe(xx: F32, yy: F32) -> F32:
        out: F32 = _ellipse(cx, hair_y, 92 * s, 96 * s)(xx, yy) * _clip01(
            fringe_line(xx) - yy + 0.5
        )
        return out

    canvas.paint(_box(cx, hair_y, 92 * s, 96 * s), fringe, geo.hair_at)
    for side in (-1, 1):
        bx, by = cx + side * (geo.eye_dx + 2 * s), geo.eye_y - 16 * s

        def brow_center(xx: F32, bx: float = bx, by: float = by) -> F32:
            out: F32 = by - 3 * s * (1 - ((xx - bx) / (16 * s)) ** 2)
            return out

        def brow_half(xx: F32, bx: float = bx, side: int = side) -> F32:
            u = (xx - bx) / (16 * s)
            out: F32 = 1.9 * s * (1 - 0.4 * (side * u)) * _clip01((1 - np.abs(u)) * 4)
            return out

        canvas.paint(_box(bx, by, 18 * s, 6 * s), _band(brow_center, brow_half), geo.hair * 0.8)

    eyes_box = (_even(cx - 50 * s), _even(geo.eye_y - 14 * s), _even(100 * s) + 2, _even(28 * s))
    mouth_box = (_even(cx - 34 * s), _even(geo.mouth_y - 22 * s), _even(68 * s) + 2, _even(48 * s))
    pre_eyes = canvas.copy(eyes_box[0] - 1, eyes_box[1] - 1, eyes_box[2] + 2, eyes_box[3] + 2)
    for side in (-1, 1):
        _draw_eye(canvas, geo, cx + side * geo.eye_dx)
    pre_mouth = canvas.copy(mouth_box[0] - 1, mouth_box[1] - 1, mouth_box[2] + 2, mouth_box[3] + 2)
    _draw_mouth(canvas, geo, MouthShape.OPEN, 0.0)
    return pre_eyes, pre_mouth, (*eyes_box, *mouth_box)


def _opaque_planes(canvas: _Canvas) -> Planes:
    if float(canvas.a.min()) < 0.999:
        raise ValueError("a face patch reaches outside the face")
    return _planes(canvas.straight())


@functools.lru_cache(maxsize=16)
def face_layers(width: int, height: int, avatar: str = "emulator") -> FaceLayers:
    """Draw (once, cached) the layers of ``avatar`` at ``width`` x ``height`` (both even)."""
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise ValueError("width and height must be even and at least 64")
    geo, rest = _geometry(width, height, avatar)
    s, cx, cy = geo.s, geo.cx, geo.cy
    background = _background(
        geo, np.asarray(rest[:3], np.float32), np.asarray(rest[3:], np.float32)
    )
    hx, hy = _even(cx - 106 * s), _even(cy - 118 * s)
    hw, hh = _even(212 * s) + 2, _even(224 * s) + 2
    head = _Canvas(hx - 1, hy - 1, hw + 2, hh + 2)
    pre_eyes, pre_mouth, boxes = _draw_head(head, geo)
    ex, ey, _, _, mx, my, _, _ = boxes
    lids = []
    for closure in (0.5, 1.0):
        patch = pre_eyes.copy(pre_eyes.x0, pre_eyes.y0, *pre_eyes.a.shape[::-1])
        for side in (-1, 1):
            _draw_eye(patch, geo, cx + side * geo.eye_dx)
            _draw_lid(patch, pre_eyes, geo, cx + side * geo.eye_dx, closure)
        lids.append(patch)
    mouths: list[list[_Canvas]] = []
    for shape in MouthShape:
        row = []
        for level in range(MOUTH_LEVELS):
            patch = pre_mouth.copy(pre_mouth.x0, pre_mouth.y0, *pre_mouth.a.shape[::-1])
            _draw_mouth(patch, geo, shape, level / (MOUTH_LEVELS - 1))
            row.append(patch)
        mouths.append(row)
    variants = []
    for py in (0, 1):
        for px in (0, 1):
            variants.append(
                HeadVariant(
                    head=_sprite(_shifted(head, px, py)),
                    lids=(
                        _opaque_planes(_shifted(lids[0], px, py)),
                        _opaque_planes(_shifted(lids[1], px, py)),
                    ),
                    mouths=tuple(
                        tuple(_opaque_planes(_shifted(p, px, py)) for p in row) for row in mouths
                    ),
                )
            )
    return FaceLayers(
        width=width,
        height=height,
        scale=s,
        background=background,
        head_xy=(hx, hy),
        eyes_xy=(ex - hx, ey - hy),
        mouth_xy=(mx - hx, my - hy),
        variants=tuple(variants),
    )
