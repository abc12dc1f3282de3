"""Client side of the impaired-network test, run inside the client namespace.

``python _netns_client.py BASE_URL API_KEY SECONDS`` opens a low-quality session, reads
video and audio for SECONDS, speaks once after the first second, and prints one JSON line:
frames received, stamp span (frames the server sent), voiced audio frames, stats, error.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any

import numpy as np

from heygen_streaming import StreamingClient
from heygen_streaming.emulator.avatar.stamp import read_stamp


def rms(frame: Any) -> float:
    data = frame.to_ndarray()
    if data.dtype.kind == "i":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    return float(np.sqrt(np.mean(np.square(data.astype(np.float32))))) if data.size else 0.0


async def run(base_url: str, api_key: str, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"error": None, "video_frames": 0, "indices": 0, "span": 0}
    levels: list[tuple[float, float]] = []
    indices: list[int] = []
    arrivals: list[float] = []
    try:
        async with (
            StreamingClient(api_key=api_key, base_url=base_url, timeout=20.0) as client,
            client.session(quality="low", connect_timeout=30.0) as s,
        ):
            t_start = time.monotonic()
            end = t_start + seconds

            async def video() -> None:
                async for frame in s.video():
                    now = time.monotonic()
                    arrivals.append(now)
                    stamp = read_stamp(frame)
                    if stamp is not None:
                        indices.append(stamp.index)
                    if now > end:
                        return

            async def audio() -> None:
                async for frame in s.audio():
                    now = time.monotonic()
                    levels.append((now, rms(frame)))
                    if now > end:
                        return

            readers = asyncio.gather(video(), audio())
            spoke_at = None
            try:
                await asyncio.sleep(min(1.5, seconds / 4))  # idle audio first
                spoke_at = time.monotonic()
                task = await s.speak("Testing speech over an impaired network link.")
                out["task_duration_ms"] = task.duration_ms
                await asyncio.wait_for(readers, seconds + 10)
            finally:
                readers.cancel()
            stats = await s.stats()
            out["stats"] = repr(stats)[:2000]
        idle = sorted(lv for t, lv in levels if spoke_at is not None and t < spoke_at)
        idle_p95 = idle[int(0.95 * (len(idle) - 1))] if idle else 0.0
        threshold = max(4 * idle_p95, 0.02)
        out["idle_rms_p95"] = idle_p95
        out["voiced_frames"] = sum(
            1 for t, lv in levels if spoke_at is not None and t >= spoke_at and lv > threshold
        )
        out["audio_frames"] = len(levels)
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        out["max_video_gap_s"] = max(gaps, default=None)
    except Exception as exc:  # reported, and the test fails on it
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["video_frames"] = len(arrivals)
    if indices:
        out["indices"] = len(set(indices))
        out["span"] = max(indices) - min(indices) + 1
        out["delivery"] = out["indices"] / out["span"]
    return out


def main() -> None:
    base_url, api_key, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    print(json.dumps(asyncio.run(run(base_url, api_key, seconds))), flush=True)


if __name__ == "__main__":
    main()
