"""Avatar Realtime (v3, HeyGen's current API): stream text in as an LLM would, record the
clip, print each word with its time.

python examples/realtime_record.py --out realtime.mp4

With HEYGEN_API_KEY set this runs on HeyGen (billed per second, $0.05/s; --max-seconds
caps it); without it, on an embedded emulator, which accepts any avatar and voice id.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _setup import connect, parser

FIRST = "Hello! I speak text as it arrives,"
# A stand-in for an LLM's streamed answer: each piece is sent as soon as it "arrives".
TOKENS = [" like", " tokens", " from", " a", " language", " model."]


async def main(args: argparse.Namespace) -> None:
    async with (
        connect(args) as client,
        client.realtime(
            args.avatar, args.voice, FIRST, mode="text_stream", max_seconds=args.max_seconds
        ) as rt,
    ):
        recording = asyncio.create_task(rt.record(args.out))  # until the stream completes
        for token in TOKENS:
            await rt.say(token)
        await rt.finish()  # no more text: the stream completes once it has been spoken
        async for word in rt.words():
            print(f"{word.start:5.2f} s  {word.word}")
        info = await recording
        ended = await rt.wait_ended()  # "final_marker" once all the text was spoken
        print(f"stream {rt.stream_id} ended ({ended}); recorded {info.duration:.1f} s")


if __name__ == "__main__":
    p = parser(__doc__ or "")
    p.set_defaults(avatar="Daisy-inskirt-20220818")
    p.add_argument("--voice", default="1bd001e7e50f421d891986aad5158bc8", help="voice id")
    p.add_argument("--out", default="realtime.mp4", help=".mp4, .m4v, .mov, .mkv or .ts")
    p.add_argument("--max-seconds", type=float, default=60.0, help="cost guard (seconds)")
    args = p.parse_args()
    asyncio.run(main(args))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes)")
