"""Run N sessions at once from one process; each speaks and counts the frames it receives.

python examples/many_sessions.py --sessions 3 --seconds 2
"""

from __future__ import annotations

import asyncio
import sys
import time

from _setup import connect, parser

from heygen_streaming import StreamingClient


async def one_session(client: StreamingClient, n: int, quality: str, seconds: float) -> dict:
    started = time.perf_counter()
    async with client.session(quality=quality) as s:
        await s.speak(f"I am avatar number {n}.")
        first_ms = None
        frames = 0
        t0 = None
        async for frame in s.video():
            if first_ms is None:
                first_ms = (time.perf_counter() - started) * 1000
                t0 = frame.time
            frames += 1
            if frame.time is not None and t0 is not None and frame.time - t0 >= seconds:
                break
        return {"n": n, "session_id": s.session_id, "first_ms": first_ms, "frames": frames}


async def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0, help="media seconds to receive each")
    args = p.parse_args()

    async with connect(args) as client, asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(one_session(client, n, args.quality, args.seconds))
            for n in range(1, args.sessions + 1)
        ]
    results = [t.result() for t in tasks]
    print(f"{'#':>3}  {'session':<38} {'first frame':>12} {'frames':>7}")
    for r in results:
        print(f"{r['n']:>3}  {r['session_id']:<38} {r['first_ms']:>9.0f} ms {r['frames']:>7}")
    ok = all(r["frames"] > 0 for r in results)
    print(f"{len(results)} sessions, {sum(r['frames'] for r in results)} frames in total")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
