"""Painting with numpy: a premultiplied RGBA float canvas, anti-aliased shapes, and the
conversion to yuv420p patches and alpha-edged sprites (BT.601, limited range).

A shape is a function of the pixel-centre coordinates (``xx``, ``yy``, frame units) giving
coverage 0..1; edges are anti-aliased from a signed-distance estimate (`coverage`).
Blending a `Sprite` per frame costs a masked copy plus its few thousand edge pixels: no
per-pixel Python and nothing in floating point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Canvas",
    "Planes",
    "Shifts",
    "Sprite",
    "band",
    "box",
    "clip01",
    "coverage",
    "ellipse",
    "gauss",
    "planes",
    "times",
]

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
class AlphaPlane:
    values: U8
    opaque: npt.NDArray[np.bool_]
    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    alpha: npt.NDArray[np.uint16]  # 1..255 of 256, at (rows, cols)
    edge: npt.NDArray[np.uint16]  # values at (rows, cols)

    @classmethod
    def build(cls, values: F32, alpha: F32) -> AlphaPlane:
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

    y: AlphaPlane
    u: AlphaPlane
    v: AlphaPlane

    def blend_into(self, dst: Planes, x: int, y: int) -> None:
        """Composite this sprite over ``dst`` at (x, y) (even, fully inside ``dst``)."""
        h, w = self.y.values.shape
        self.y.blend_into(dst.y[y : y + h, x : x + w])
        cy, cx, ch, cw = y // 2, x // 2, h // 2, w // 2
        self.u.blend_into(dst.u[cy : cy + ch, cx : cx + cw])
        self.v.blend_into(dst.v[cy : cy + ch, cx : cx + cw])


# --- painting on a premultiplied RGBA float canvas ------------------------------------


class Canvas:
    """Premultiplied RGBA (float32) whose pixel (r, c) is frame pixel (y0 + r, x0 + c)."""

    def __init__(self, x0: int, y0: int, w: int, h: int) -> None:
        self.x0, self.y0 = x0, y0
        self.rgb = np.zeros((h, w, 3), np.float32)
        self.a = np.zeros((h, w), np.float32)

    def copy(self, x0: int, y0: int, w: int, h: int) -> Canvas:
        """A copy of the frame rectangle (x0, y0, w, h), which must lie inside."""
        out = Canvas(x0, y0, w, h)
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


def coverage(field: F32) -> F32:
    """Anti-aliased coverage of ``field < 0`` (a signed-distance estimate from its gradient)."""
    gy, gx = np.gradient(field)
    dist = field / np.maximum(np.hypot(gx, gy), 1e-6)
    out: F32 = np.clip(0.5 - dist, 0.0, 1.0).astype(np.float32)
    return out


def ellipse(x0: float, y0: float, rx: float, ry: float) -> Shape:
    """An anti-aliased ellipse."""

    def shape(xx: F32, yy: F32) -> F32:
        return coverage(np.hypot((xx - x0) / rx, (yy - y0) / ry) - 1.0)

    return shape


def box(
    x0: float, y0: float, rx: float, ry: float, pad: float = 3.0
) -> tuple[float, float, float, float]:
    """The bounding box of an (rx, ry) shape at (x0, y0), with ``pad`` pixels to spare."""
    return (x0 - rx - pad, y0 - ry - pad, x0 + rx + pad, y0 + ry + pad)


def gauss(x0: float, y0: float, sx: float, sy: float, amount: float) -> Shape:
    """A soft Gaussian weight (for tints), ``amount`` at its centre."""

    def weight(xx: F32, yy: F32) -> F32:
        out: F32 = amount * np.exp(-0.5 * (((xx - x0) / sx) ** 2 + ((yy - y0) / sy) ** 2))
        return out

    return weight


def band(center: Callable[[F32], F32], half: Callable[[F32], F32]) -> Shape:
    """A stroke around the curve y = center(x), ``half(x)`` thick on each side."""

    def shape(xx: F32, yy: F32) -> F32:
        hw = half(xx)
        out: F32 = clip01(hw - np.abs(yy - center(xx)) + 0.5) * clip01(2 * hw)
        return out

    return shape


def times(*shapes: Shape) -> Shape:
    """The intersection (product of coverages) of ``shapes``."""

    def shape(xx: F32, yy: F32) -> F32:
        out = shapes[0](xx, yy)
        for other in shapes[1:]:
            out = out * other(xx, yy)
        return out

    return shape


def clip01(x: Any) -> Any:
    """Clamp to 0..1."""
    return np.clip(x, 0.0, 1.0)


# --- RGB -> yuv420p ----------------------------------------------------------------------


def yuv(rgb: F32) -> tuple[F32, F32, F32]:
    """Full-resolution Y, Cb, Cr of RGB (0..255), BT.601 limited range."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return y, u, v


def halve(plane: F32) -> F32:
    """Average 2x2 blocks (chroma subsampling)."""
    out: F32 = (plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2]) / 4
    return out


def planes(rgb: F32) -> Planes:
    """An opaque RGB picture as yuv420p planes."""
    y, u, v = yuv(rgb)
    q = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, halve(u), halve(v))]
    return Planes(q[0], q[1], q[2])


def _quarter_sums(plane: F32) -> F32:
    out: F32 = plane[0::2, 0::2] + plane[1::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 1::2]
    return out


@dataclass(frozen=True)
class Shifts:
    """A canvas drawn with a 1 px margin, converted to full-resolution Y, Cb, Cr once and
    cut into yuv420p variants shifted right ``px`` and down ``py`` (0 or 1 each)."""

    y: F32
    u: F32
    v: F32
    a: F32

    @classmethod
    def of(cls, canvas: Canvas) -> Shifts:
        """Convert ``canvas`` (its straight colour and alpha)."""
        y, u, v = yuv(canvas.straight())
        return cls(y, u, v, canvas.a)

    def _cut(self, plane: F32, px: int, py: int) -> F32:
        h, w = plane.shape
        out: F32 = plane[1 - py : h - 1 - py, 1 - px : w - 1 - px]
        return out

    def sprite(self, px: int, py: int) -> Sprite:
        """The shifted variant as a sprite; chroma is alpha-weighted so edges keep colour."""
        a = self._cut(self.a, px, py)
        weight = _quarter_sums(a)

        def chroma(plane: F32) -> F32:
            out: F32 = _quarter_sums(self._cut(plane, px, py) * a) / np.maximum(weight, 1e-6)
            return out

        return Sprite(
            AlphaPlane.build(self._cut(self.y, px, py), a),
            AlphaPlane.build(chroma(self.u), weight / 4),
            AlphaPlane.build(chroma(self.v), weight / 4),
        )

    def opaque(self, px: int, py: int) -> Planes:
        """The shifted variant of a patch that must be fully opaque (inside the face)."""
        if float(self._cut(self.a, px, py).min()) < 0.999:
            raise ValueError("a face patch reaches outside the face")
        q = [
            np.clip(np.rint(p), 0, 255).astype(np.uint8)
            for p in (
                self._cut(self.y, px, py),
                halve(self._cut(self.u, px, py)),
                halve(self._cut(self.v, px, py)),
            )
        ]
        return Planes(q[0], q[1], q[2])
