"""LiveAvatar LITE mode: your own audio (here a stand-in text-to-speech stream), lip-synced.

python examples/liveavatar_lite.py --out lipsync.mp4
python examples/liveavatar_lite.py --audio speech.wav

The audio goes in as it is produced (an async generator of 100 ms pieces, at real time,
like a TTS engine): the avatar starts speaking before the last piece exists. Any rate,
channel count and sample format is resampled to what LiveAvatar takes (PCM s16le mono
24 kHz). Then a long speech is interrupted. Without $LIVEAVATAR_API_KEY it runs against an
embedded emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
from liveavatar_full import connect

from heygen_streaming import LiveAvatarSession

RATE = 16_000  # what our stand-in TTS produces; the SDK resamples it


async def fake_tts(seconds: float) -> AsyncIterator[np.ndarray]:
    """100 ms of a voice-like sound every 100 ms: a stand-in for a streaming TTS."""
    t = np.arange(RATE // 10) / RATE
    for i in range(int(seconds * 10)):
        pitch = 180 + 40 * np.sin(i / 3)
        yield (0.4 * np.sin(2 * np.pi * pitch * (t + i / 10))).astype(np.float32)
        await asyncio.sleep(0.1)


async def first_voice(s: LiveAvatarSession, since: float) -> float:
    """Seconds from ``since`` until the avatar's audio is voiced."""
    async for frame in s.audio():
        if np.abs(frame.to_ndarray()).max() > 1000:
            return time.monotonic() - since
    return float("nan")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--avatar", default=None, help="avatar id (default: the first public one)")
    p.add_argument("--quality", default="low", choices=["low", "medium", "high", "very_high"])
    p.add_argument("--audio", default=None, help="speak this audio file instead of the stand-in")
    p.add_argument("--out", default=None, help="record to this .mp4 file")
    args = p.parse_args()

    async with connect() as client:
        avatar = args.avatar or (await client.list_avatars())[0].id
        async with client.session(avatar_id=avatar, mode="lite", quality=args.quality) as s:
            print(f"session {s.session_id} connected")
            recording = s.recording(args.out) if args.out else None
            recorder = await recording.__aenter__() if recording else None
            try:
                started = time.monotonic()
                voiced = asyncio.ensure_future(first_voice(s, started))
                if args.audio:
                    await s.speak_audio(args.audio, wait=True)
                else:
                    await s.speak_audio(fake_tts(2.0), sample_rate=RATE, wait=True)
                print(f"avatar voiced {await voiced:.2f} s after the first audio was sent")
                print(f"spoke for {time.monotonic() - started:.1f} s")

                long = asyncio.ensure_future(s.speak_audio(fake_tts(10.0), sample_rate=RATE))
                await asyncio.sleep(1.0)
                cut = time.monotonic()
                await s.interrupt()  # returns once the service cleared its buffer
                await long
                print(f"interrupt confirmed in {(time.monotonic() - cut) * 1000:.0f} ms")
            finally:
                if recording is not None:
                    await recording.__aexit__(None, None, None)
        if recorder is not None and recorder.info is not None:
            print(f"wrote {args.out} ({recorder.info.duration:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
