"""Start a long speech, interrupt it, and measure how quickly the audio goes quiet.

python examples/interrupt.py --after 1.0
"""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np
from _setup import connect, parser

LONG_TEXT = " ".join(["This is a very long speech that nobody wants to hear to the end."] * 8)
QUIET_DBFS = -40.0  # below this, a frame counts as silence


def frame_dbfs(frame: object) -> float:
    samples = frame.to_ndarray().astype(np.float64) / 32768.0  # type: ignore[attr-defined]
    return 20 * math.log10(max(float(np.sqrt(np.mean(samples**2))), 1e-6))


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--after", type=float, default=1.0, help="seconds of speech before interrupting")
    args = p.parse_args()

    async with connect(args) as client, client.session(args.avatar, quality=args.quality) as s:
        audio = s.audio()
        task = await s.speak(LONG_TEXT)  # returns once queued, with the expected duration
        print(f"speaking task {task.task_id}: {(task.duration_ms or 0) / 1000:.1f} s of speech")

        # Wait for speech to be audible, then let it run for --after seconds (media time).
        heard = 0.0
        async for frame in audio:
            if heard or frame_dbfs(frame) > QUIET_DBFS:
                heard += frame.samples / frame.sample_rate
            if heard >= args.after:
                break

        sent = time.perf_counter()
        await s.interrupt()
        quiet_frames = 0
        async for frame in audio:  # speech already in flight still arrives for a moment
            quiet_frames = quiet_frames + 1 if frame_dbfs(frame) < QUIET_DBFS else 0
            if quiet_frames >= 5:  # 100 ms of silence
                break
        quiet_ms = (time.perf_counter() - sent) * 1000
        print(f"interrupted after {heard:.1f} s of speech; audio quiet {quiet_ms:.0f} ms later")


if __name__ == "__main__":
    asyncio.run(main())
