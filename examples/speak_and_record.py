"""Make the avatar speak and record it to an MP4 (H.264 + AAC) or WebM file.

python examples/speak_and_record.py --text "Hello there" --out hello.mp4
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _setup import connect, parser


async def main(args: argparse.Namespace) -> None:
    async with connect(args) as client, client.session(args.avatar, quality=args.quality) as s:
        async with s.recording(args.out):
            task = await s.speak(args.text, wait=True)  # returns when the avatar has finished
            await asyncio.sleep(0.3)  # keep a short tail after the last word
        print(f"session {s.session_id}: spoke task {task.task_id} ({task.duration_ms} ms)")


if __name__ == "__main__":
    p = parser(__doc__ or "")
    p.add_argument("--text", default="Hello! This recording was made with heygen-streaming.")
    p.add_argument("--out", default="speak_and_record.mp4")
    args = p.parse_args()
    asyncio.run(main(args))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes)")
