"""``heygen-streaming realtime``: one Avatar Realtime (v3, HLS) stream from the command line.

``realtime "text" --out clip.mp4`` speaks a fixed script (``tts``) and records it;
``realtime - --out clip.mp4`` (or ``--stdin``) streams stdin's lines as text deltas
(``text_stream``) and closes the input at end of file. Without a configured key or base
URL it runs against an embedded emulator. Against an emulator (embedded or standalone)
``--avatar`` / ``--voice`` default to the ids it names (``GET /emulator``, `probe`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .. import ConfigurationError
from .args import positive_float

if TYPE_CHECKING:  # imported when the command runs: `heygen-streaming --help` stays light
    from .. import RealtimeSession, RecordingInfo
    from .commands import Config

__all__ = ["REMUX_SUFFIXES", "add_realtime_parser", "cmd_realtime"]

REMUX_SUFFIXES = ".mp4/.m4v/.mov/.mkv/.ts"
"""What ``--out`` accepts (the SDK's remuxer; a test keeps the two in step)."""

_DRAIN = 30.0  # seconds allowed for the media readers to finish after the stream ended


def add_realtime_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``realtime`` subcommand on the ``heygen-streaming`` parser."""
    p = sub.add_parser(
        "realtime",
        parents=[common],
        help="Avatar Realtime (v3, HLS): speak a text or stdin, record the clip",
        description="Create an Avatar Realtime stream (HeyGen's current streaming API), "
        "play it and optionally record it. TEXT is spoken as a script; with '-' or --stdin "
        "each line of stdin is sent as it arrives (text_stream) and EOF ends the input. "
        "Without HEYGEN_API_KEY / HEYGEN_BASE_URL an embedded emulator is used; against an "
        "emulator --avatar and --voice default to its own ids.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="what to say ('-': stdin)")
    p.add_argument("--stdin", action="store_true", help="stream stdin's lines as text deltas")
    p.add_argument(
        "--out",
        default=None,
        help=f"record the stream to this {REMUX_SUFFIXES} file (packets copied, no re-encoding)",
    )
    p.add_argument(
        "--avatar",
        default=None,
        help="avatar (look) id: required with HeyGen; an emulator supplies its own",
    )
    p.add_argument(
        "--voice", default=None, help="voice id: required with HeyGen; an emulator supplies its own"
    )
    p.add_argument(
        "--max-seconds",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="cost guard: cancel the stream after this many seconds ($0.05/s on HeyGen)",
    )
    p.add_argument(
        "--ready-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="seconds allowed until the HLS stream is live",
    )
    p.add_argument(
        "--emulator",
        action="store_true",
        help="use an embedded emulator even if an API key or base URL is configured",
    )


class _Counter:
    """Counts decoded frames and words while the stream plays."""

    def __init__(self, rt: RealtimeSession, started: float) -> None:
        self.video = 0
        self.audio = 0
        self.words: list[str] = []
        self.size = ""
        self.first_frame_ms: float | None = None
        self._started = started
        self._tasks = [
            asyncio.ensure_future(self._count_video(rt)),
            asyncio.ensure_future(self._count_audio(rt)),
            asyncio.ensure_future(self._collect_words(rt)),
        ]

    async def _count_video(self, rt: RealtimeSession) -> None:
        async for frame in rt.video(capacity=100):
            if self.first_frame_ms is None:
                self.first_frame_ms = (time.perf_counter() - self._started) * 1000
                self.size = f"{frame.width}x{frame.height}"
            self.video += 1

    async def _count_audio(self, rt: RealtimeSession) -> None:
        async for _ in rt.audio(capacity=200):
            self.audio += 1

    async def _collect_words(self, rt: RealtimeSession) -> None:
        async for word in rt.words():
            self.words.append(word.word)

    async def drain(self) -> None:
        """Wait (bounded) for the readers to reach the end of the stream, then stop them."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _file_report(info: RecordingInfo) -> dict[str, Any]:
    return {
        "out": os.path.abspath(info.path),
        "bytes": os.path.getsize(info.path),
        "recorded_s": info.duration,
    }


def _spoken(words: list[str]) -> str:
    """The words as text: punctuation (a word of its own) sticks to the word before it."""
    text = ""
    for word in words:
        text += " " + word if text and any(c.isalnum() for c in word) else word
    return text


async def _lines() -> AsyncIterator[str]:
    from .commands import _stdin_lines

    async for line in _stdin_lines():
        if line.strip():
            yield line


async def _ids(
    config: Config, args: argparse.Namespace, base_url: str, *, embedded: bool
) -> tuple[str, str]:
    """``--avatar`` / ``--voice``, the missing ones from the emulator at ``base_url``."""
    from .probe import probe_emulator
    from .run import UsageError

    if args.avatar and args.voice:
        return args.avatar, args.voice
    found = await probe_emulator(base_url)
    if found is None:
        raise UsageError(
            f"--avatar and --voice are required: {base_url} is not a heygen-streaming emulator "
            "(which would supply defaults)"
        )
    v3 = found.apis.get("v3", {})
    avatar = args.avatar or str(v3.get("avatar_id") or "emulator-avatar")
    voice = args.voice or str(v3.get("voice_id") or "emulator-voice")
    if not embedded:
        config.note(f"emulator {found.version} at {base_url}: avatar {avatar}, voice {voice}")
    return avatar, voice


async def cmd_realtime(config: Config, args: argparse.Namespace) -> int:
    """``realtime TEXT|- [--out FILE]``."""
    from .._client import check_remux_path
    from .progress import clean_text, format_report, jsonable, print_json
    from .run import UsageError, is_heygen, open_client

    streaming = bool(args.stdin) or args.text == "-"
    if not streaming and not (args.text or "").strip():
        raise UsageError("say something: realtime TEXT, or realtime - to read stdin")
    if args.out is not None:
        try:
            check_remux_path(args.out)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
    emulator = bool(args.emulator) or not (config.api_key or config.base_url)
    if not emulator and not (args.avatar and args.voice) and is_heygen(config):
        raise UsageError("--avatar and --voice are required with HeyGen (an emulator has defaults)")
    lines = _lines() if streaming else None
    text = args.text
    if lines is not None:
        try:
            text = await anext(lines)
        except StopAsyncIteration:
            raise UsageError("stdin was empty: nothing to say") from None
    why = "set HEYGEN_API_KEY to use HeyGen's Avatar Realtime"
    async with open_client(config, emulator=emulator, why=why) as target:
        avatar, voice = await _ids(config, args, target.base_url, embedded=target.emulator)
        t0 = time.perf_counter()
        config.note("creating the stream...")
        async with target.client.realtime(
            avatar,
            voice,
            text,
            mode="text_stream" if streaming else "tts",
            max_seconds=args.max_seconds,
            ready_timeout=args.ready_timeout,
        ) as rt:
            ready_ms = (time.perf_counter() - t0) * 1000
            config.note(f"stream {rt.stream_id} is live after {ready_ms / 1000:.1f} s")
            counter = _Counter(rt, t0)
            info: RecordingInfo | None = None
            recording = asyncio.ensure_future(rt.record(args.out)) if args.out else None
            try:
                if lines is not None:
                    async for line in lines:
                        await rt.say(" " + line)
                    await rt.finish()
                end_reason = await rt.wait_ended()
                info = await recording if recording is not None else None
                await counter.drain()
            finally:
                await counter.stop()
                if recording is not None and not recording.done():
                    recording.cancel()
                    await asyncio.gather(recording, return_exceptions=True)
        report: dict[str, Any] = {
            "stream_id": rt.stream_id,
            "emulator": target.emulator,
            "mode": rt.mode,
            "end_reason": end_reason,
            "ready_ms": ready_ms,
            "first_frame_ms": counter.first_frame_ms,
            "video_size": counter.size,
            "video_frames": counter.video,
            "audio_frames": counter.audio,
            "words": len(counter.words),
            "elapsed_s": time.perf_counter() - t0,
        }
    if info is not None:
        report.update(_file_report(info))
    if config.json:
        print_json(report)
    else:
        print("realtime: done" + (f", wrote {args.out}" if args.out else ""))
        print(format_report(jsonable(report), indent="  "))
        if counter.words:
            print("  said: " + clean_text(_spoken(counter.words), limit=500), file=sys.stdout)
    return 0
