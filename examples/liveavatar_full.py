"""LiveAvatar FULL mode: the service speaks and answers; you watch, listen and record.

python examples/liveavatar_full.py --out conversation.mp4

Needs ``pip install 'heygen-streaming[liveavatar]'`` and a LiveAvatar key
(``$LIVEAVATAR_API_KEY``; HeyGen keys do not work there). Without a key it runs against an
embedded emulator (``[emulator]`` extra), whose avatar speaks stand-in replies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from heygen_streaming import LiveAvatarClient, LiveAvatarSession
from heygen_streaming.liveavatar import SessionEnded, SpeakEnded, SpeakStarted, Transcription


@asynccontextmanager
async def connect() -> AsyncIterator[LiveAvatarClient]:
    """A client for LiveAvatar ($LIVEAVATAR_API_KEY), else for an embedded emulator."""
    if os.environ.get("LIVEAVATAR_API_KEY") or os.environ.get("LIVEAVATAR_BASE_URL"):
        async with LiveAvatarClient() as client:
            yield client
        return
    from heygen_streaming.emulator import Emulator

    async with Emulator(api_key="example-key", port=0) as emu:
        print(
            f"(no LIVEAVATAR_API_KEY: using an embedded emulator at {emu.base_url})",
            file=sys.stderr,
        )
        async with LiveAvatarClient(api_key="example-key", base_url=emu.base_url) as client:
            yield client


async def narrate(s: LiveAvatarSession) -> None:
    """Print what happens, as the service reports it."""
    async for event in s.events():
        if isinstance(event, SpeakStarted):
            print(f"  avatar starts speaking ({event.speech_id})")
        elif isinstance(event, SpeakEnded):
            print(f"  avatar done speaking ({event.speech_id})")
        elif isinstance(event, Transcription) and event.final:
            print(f"  {event.role} said: {event.text}")
        elif isinstance(event, SessionEnded):
            print(f"  session ended: {event.reason}")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--avatar", default=None, help="avatar id (default: the first public one)")
    p.add_argument("--quality", default="low", choices=["low", "medium", "high", "very_high"])
    p.add_argument("--out", default=None, help="record the conversation to this .mp4 file")
    p.add_argument("--question", default="What can you do for me?")
    args = p.parse_args()

    async with connect() as client:
        avatar = args.avatar or (await client.list_avatars())[0].id
        async with client.session(avatar_id=avatar, mode="full", quality=args.quality) as s:
            print(f"session {s.session_id} connected")
            narrator = asyncio.ensure_future(narrate(s))
            recording = s.recording(args.out) if args.out else None
            recorder = await recording.__aenter__() if recording else None
            try:
                await s.speak("Hello! I am a LiveAvatar, driven from Python.", wait=True)
                await s.respond(args.question, wait=True)  # the service's LLM answers
            finally:
                if recording is not None:
                    await recording.__aexit__(None, None, None)
            transcript = await s.transcript()
        await narrator  # events() ends with the session
        print(f"transcript: {len(transcript.entries)} lines")
        if recorder is not None and recorder.info is not None:
            print(f"wrote {args.out} ({recorder.info.duration:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
