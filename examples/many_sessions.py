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
    async with client.session(quality=quality) as s:  # returns once the first frame arrived
        connected_ms = (time.perf_counter() - started) * 1000
        video = s.video()
        await s.speak(f"I am avatar number {n}.")
        frames = 0
        t0 = None
        async for frame in video:  # count `seconds` of media time
            t0 = frame.time if t0 is None else t0
            frames += 1
            if frame.time - t0 >= seconds:
                break
        return {"n": n, "session_id": s.session_id, "connect_ms": connected_ms, "frames": frames}


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
    print(f"{'#':>3}  {'session':<38} {'connected':>10} {'frames':>7}")
    for r in results:
        print(f"{r['n']:>3}  {r['session_id']:<38} {r['connect_ms']:>7.0f} ms {r['frames']:>7}")
    ok = all(r["frames"] > 0 for r in results)
    print(f"{len(results)} sessions, {sum(r['frames'] for r in results)} frames in total")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
