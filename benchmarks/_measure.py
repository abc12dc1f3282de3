"""Small measurement helpers shared by the benchmark scenarios."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from typing import Any

import psutil


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, p95 (nearest rank), min, max and count of ``values``."""
    if not values:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None}
    ordered = sorted(values)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p95": ordered[rank - 1],
        "min": ordered[0],
        "max": ordered[-1],
    }


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20


def audio_rms(frame: Any) -> float:
    """RMS level of an ``av.AudioFrame`` on a 0..1 scale (s16 or float formats)."""
    import numpy as np

    data = frame.to_ndarray()
    if data.dtype.kind == "i":
        scale = float(np.iinfo(data.dtype).max)
        data = data.astype(np.float32) / scale
    else:
        data = data.astype(np.float32)
    if data.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(data))))


def stamp_of(frame: Any) -> tuple[int, float] | None:
    """``(index, sent_at)`` of a stamped emulator frame (wall clock), or ``None``."""
    from heygen_streaming.emulator.avatar.stamp import read_stamp

    stamp = read_stamp(frame)
    return None if stamp is None else (stamp.index, stamp.sent_at)
