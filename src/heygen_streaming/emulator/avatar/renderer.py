"""`AvatarRenderer`: compose avatar frames from the cached layers, for any time and mouth.

Motion is a pure function of time: a slow sway and bob (sums of incommensurate sines,
phases from the seed), a slight lean while talking (a smoothed level the caller passes),
blinks at random intervals (1.2 s plus a gamma-distributed wait, mean about 3.8 s;
sometimes a double blink) and now and then a glance aside. So a renderer can draw frame
``t`` for any ``t``, in any order, as fast as the CPU allows.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import time
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from .face import MOUTH_LEVELS, FaceLayers, Planes, face_layers
from .speech import CLOSED, MouthPose
from .stamp import write_stamp

__all__ = ["AvatarRenderer", "Pose", "frame_planes"]

_FPS = 25
_BLINK = ((0.04, 1), (0.12, 2), (0.20, 1))  # (until seconds after the start, lid state)


@dataclass(frozen=True)
class Pose:
    """Everything that varies between frames: head offset (px), eyelids, gaze, mouth."""

    dx: int = 0
    dy: int = 0
    lid: int = 0
    """0 open, 1 half closed, 2 closed."""
    gaze: int = 0
    """-1 looking left, 0 ahead, 1 right."""
    mouth: MouthPose = CLOSED


def frame_planes(frame: av.VideoFrame) -> Planes:
    """Writable numpy views of a yuv420p frame's planes (without line padding)."""
    views = []
    for i, plane in enumerate(frame.planes):
        w = frame.width if i == 0 else frame.width // 2
        h = frame.height if i == 0 else frame.height // 2
        arr: npt.NDArray[np.uint8] = np.frombuffer(memoryview(plane), np.uint8).reshape(
            -1, plane.line_size
        )
        views.append(arr[:h, :w])
    return Planes(views[0], views[1], views[2])


class _Blinks:
    """Blink start times from a seeded generator, extended lazily as time advances."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self.starts: list[float] = [float(self._rng.uniform(0.3, 2.5))]

    def lid(self, t: float) -> int:
        while self.starts[-1] <= t:
            last = self.starts[-1]
            if self._rng.random() < 0.12:  # a double blink
                self.starts.append(last + 0.3)
            self.starts.append(self.starts[-1] + 1.2 + min(float(self._rng.gamma(2.0, 1.3)), 8.0))
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        since = t - self.starts[i]
        for until, state in _BLINK:
            if since < until:
                return state
        return 0


class _Glances:
    """Where the eyes look: mostly ahead, now and then a short glance aside."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed ^ 0x5EED)
        self.starts: list[float] = [0.0]
        self.gazes: list[int] = [0]

    def gaze(self, t: float) -> int:
        while self.starts[-1] <= t:
            aside = self.gazes[-1] != 0
            hold = self._rng.uniform(0.4, 1.2) if aside else self._rng.uniform(1.5, 5.0)
            self.starts.append(self.starts[-1] + float(hold))
            self.gazes.append(0 if aside else int(self._rng.choice((-1, 1))))
        return self.gazes[bisect.bisect_right(self.starts, t) - 1]


class AvatarRenderer:
    """Draws the avatar's frames: ``render(t, mouth)`` gives a yuv420p ``av.VideoFrame``.

    Args:
        width, height: frame size in pixels (even; any aspect, the figure is centred).
        avatar: the avatar's name; picks its colours (hair, skin, shirt, eyes, backdrop).
        stamp: write the frame stamp (`.stamp`) into the top rows of every frame.
        seed: varies blinks and head motion (default: from the avatar's name).

    The layers are drawn on first use of a (width, height, avatar) and cached for the
    process; rendering a frame then costs well under a millisecond at 720p. A renderer keeps
    its last background+head composite: use one renderer from one thread at a time.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        avatar: str = "emulator",
        stamp: bool = False,
        seed: int | None = None,
    ) -> None:
        self.width, self.height = width, height
        self.avatar = avatar
        self.stamp = stamp
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(avatar.encode()).digest()[:4], "big")
        rng = np.random.default_rng(seed)
        self._phases = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 4))
        self._blinks = _Blinks(seed)
        self._glances = _Glances(seed)
        self.layers: FaceLayers = face_layers(width, height, avatar)
        bg = self.layers.background
        self._composite = Planes(bg.y.copy(), bg.u.copy(), bg.v.copy())
        self._composite_at: tuple[int, int] | None = None

    def pose(self, t: float, mouth: MouthPose | float = CLOSED, *, lean: float = 0.0) -> Pose:
        """The pose at ``t`` seconds with the mouth at ``mouth`` (a pose or an openness).

        ``lean`` (0..1) lowers the head a little, for a slowly varying "how much is being
        said" level (the live track passes a smoothed mouth openness).
        """
        if not isinstance(mouth, MouthPose):
            mouth = MouthPose(open=min(1.0, max(0.0, float(mouth))))
        s = self.layers.scale
        p = self._phases
        tau = 2 * math.pi * t
        sway = 4.0 * s * (0.65 * math.sin(tau / 7.7 + p[0]) + 0.35 * math.sin(tau / 3.3 + p[1]))
        bob = 2.2 * s * (0.6 * math.sin(tau / 5.3 + p[2]) + 0.4 * math.sin(tau / 2.9 + p[3]))
        bob += 3.0 * s * min(1.0, max(0.0, lean))
        return Pose(round(sway), round(bob), self._blinks.lid(t), self._glances.gaze(t), mouth)

    def render(
        self, t: float, mouth: MouthPose | float = CLOSED, *, index: int | None = None
    ) -> av.VideoFrame:
        """The frame at ``t`` seconds (``index`` goes into the stamp; default ``t * 25``)."""
        return self.render_pose(
            self.pose(t, mouth), index=round(t * _FPS) if index is None else index
        )

    def render_pose(self, pose: Pose, *, index: int = 0) -> av.VideoFrame:
        """The frame for ``pose`` (stamped with ``index`` and the current time if enabled)."""
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        self.draw(frame_planes(frame), pose)
        if self.stamp:
            write_stamp(frame, index, time.time())
        return frame

    def draw(self, dst: Planes, pose: Pose) -> None:
        """Draw ``pose`` into ``dst`` (yuv420p planes of this renderer's size), unstamped."""
        layers = self.layers
        variant = layers.variants[2 * (pose.dy & 1) + (pose.dx & 1)]
        x = layers.head_xy[0] + pose.dx - (pose.dx & 1)
        y = layers.head_xy[1] + pose.dy - (pose.dy & 1)
        # The head moves in 1 px steps a few times a second: keep the last background+head.
        if self._composite_at != (pose.dx, pose.dy):
            composite = self._composite
            np.copyto(composite.y, layers.background.y)
            np.copyto(composite.u, layers.background.u)
            np.copyto(composite.v, layers.background.v)
            variant.head.blend_into(composite, x, y)
            self._composite_at = (pose.dx, pose.dy)
        np.copyto(dst.y, self._composite.y)
        np.copyto(dst.u, self._composite.u)
        np.copyto(dst.v, self._composite.v)
        if pose.lid or pose.gaze:
            eyes = variant.eyes[pose.lid][pose.gaze + 1]
            eyes.paste_into(dst, x + layers.eyes_xy[0], y + layers.eyes_xy[1])
        level = min(MOUTH_LEVELS - 1, round(pose.mouth.open * (MOUTH_LEVELS - 1)))
        if level:
            patch = variant.mouths[pose.mouth.shape][level]
            patch.paste_into(dst, x + layers.mouth_xy[0], y + layers.mouth_xy[1])
