"""``heygen-streaming live``: one LiveAvatar session from the command line, and its orphans.

``live "text" --out clip.mp4`` speaks TEXT in a FULL session (the service's voice) and
records it; ``live - --out clip.mp4`` speaks each line of stdin as it arrives;
``live --audio speech.wav --out clip.mp4`` lip-syncs your audio in a LITE session.
``live sessions list`` lists the account's active sessions, ``live sessions stop ID...``
and ``live sessions stop --all`` stop them (a session left open is billed).

The key is ``--api-key`` or ``$LIVEAVATAR_API_KEY`` (LiveAvatar has its own keys), the
service ``--base-url`` or ``$LIVEAVATAR_BASE_URL``; with neither, a session runs against an
embedded emulator, like ``demo``. Usage mistakes exit with 2 (`usage_error`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .args import positive_float

if TYPE_CHECKING:  # imported when the command runs: `heygen-streaming --help` stays light
    from .. import LiveAvatarClient, LiveAvatarSession
    from .run import Config

__all__ = ["add_live_parser", "cmd_live", "loopback_warning", "usage_error"]

QUALITIES = ("low", "medium", "high", "very_high")
ACTIONS = ("list", "stop")


def add_live_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the ``live`` subcommand on the ``heygen-streaming`` parser."""
    p = sub.add_parser(
        "live",
        parents=[common],
        help="LiveAvatar: speak a text (FULL) or your audio (LITE), record it; list/stop sessions",
        description="A LiveAvatar session (HeyGen's interactive avatar; its own key: "
        "--api-key or $LIVEAVATAR_API_KEY). TEXT is spoken in a FULL session ('-': each "
        "line of stdin); --audio FILE is lip-synced in a LITE session. 'live sessions list', "
        "'live sessions stop ID...' and 'live sessions stop --all' manage the account's "
        "active sessions. Without a LiveAvatar key or base URL an embedded emulator is used.",
        usage="%(prog)s [options] [TEXT | - | --audio FILE]\n"
        "       %(prog)s sessions list | sessions stop ID... | sessions stop --all",
    )
    p.add_argument("words", nargs="*", metavar="TEXT", help="what to say ('-': stdin)")
    p.add_argument("--audio", default=None, metavar="FILE", help="LITE: lip-sync this audio file")
    p.add_argument(
        "--out", default=None,
        help="record the session to this file, .mp4, .m4v, .mov, .mkv (H.264 + AAC) or .webm "
        "(VP8 + Opus)",
    )  # fmt: skip
    p.add_argument("--avatar", default=None, help="avatar id (default: the first public one)")
    p.add_argument("--voice", default=None, help="FULL: voice id (default: the avatar's)")
    p.add_argument("--quality", choices=QUALITIES, default="low", help="video quality")
    p.add_argument(
        "--connect-timeout", type=positive_float, default=30.0, metavar="S",
        help="seconds allowed to connect",
    )  # fmt: skip
    p.add_argument(
        "--max-seconds", type=positive_float, default=300.0, metavar="S",
        help="cost guard: the session ends after this many seconds (max_session_duration)",
    )  # fmt: skip
    p.add_argument("--all", action="store_true", help="with 'sessions stop': every active one")
    p.add_argument(
        "--emulator", action="store_true",
        help="use an embedded emulator even if a LiveAvatar key or base URL is configured",
    )  # fmt: skip


def usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with a ``live`` command line (exit 2), or None."""
    words = list(args.words)
    if words[:1] == ["sessions"]:
        if len(words) < 2 or words[1] not in ACTIONS:
            return "live sessions: say 'list' or 'stop ID...' or 'stop --all'"
        if words[1] == "list" and (len(words) > 2 or args.all):
            return "live sessions list takes no ids"
        if words[1] == "stop" and bool(words[2:]) == bool(args.all):
            return "live sessions stop: give session ids or --all (not both)"
        return None
    if args.all:
        return "--all belongs to 'live sessions stop'"
    if args.audio is not None and words:
        return "give TEXT or --audio FILE, not both"
    if args.audio is None and not " ".join(words).strip():
        return "say something: live TEXT, live - (stdin) or live --audio FILE"
    if args.audio is not None and not os.path.isfile(args.audio):
        return f"--audio: no such file: {args.audio}"
    return None


def _credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    key = getattr(args, "api_key", None) or os.environ.get("LIVEAVATAR_API_KEY") or ""
    base = getattr(args, "base_url", None) or os.environ.get("LIVEAVATAR_BASE_URL") or None
    return key.strip() or None, base


async def cmd_live(config: Config, args: argparse.Namespace) -> int:
    """``live TEXT|-|--audio FILE`` and ``live sessions ...``."""
    from .run import LIVEAVATAR, CLIError, check_output

    key, base = _credentials(args)
    config.api_key = key  # masked in every message
    config.base_url, config.service = base, LIVEAVATAR  # what error hints name
    if args.words[:1] == ["sessions"]:
        if not (key or base):
            raise CLIError("no LiveAvatar key: set LIVEAVATAR_API_KEY or pass --api-key")
        return await _sessions(config, args, key, base)
    check_output(args.out)
    if (warning := loopback_warning()) is not None:
        config.note(warning)
    if args.emulator or not (key or base):
        async with _embedded(config) as (emu_key, emu_url):
            return await _speak(config, args, emu_key, emu_url, emulator=True)
    return await _speak(config, args, key, base, emulator=False)


def loopback_warning() -> str | None:
    """A note when this machine has only loopback, where no room can connect, else None."""
    from .errors import only_loopback

    if not only_loopback():
        return None
    return (
        "note: this machine has no network interface besides loopback, and the LiveKit "
        "client sends no media over loopback: the session will not connect (see 'Against "
        "the emulator' in docs/liveavatar.md)"
    )


@contextlib.asynccontextmanager
async def _embedded(config: Config) -> AsyncIterator[tuple[str, str]]:
    """An emulator in this process: its key and base URL."""
    from .run import CLIError

    try:
        from ..emulator import Emulator
    except ImportError as exc:
        raise CLIError(
            "no LiveAvatar key is configured and the embedded emulator is not installed "
            f"(missing {exc.name or exc}): set LIVEAVATAR_API_KEY, or "
            "pip install 'heygen-streaming[emulator]'"
        ) from exc
    key = "emu-" + secrets.token_urlsafe(12)
    async with Emulator(api_key=key, port=0) as emu:
        config.note(
            f"using an embedded emulator at {emu.base_url} (set LIVEAVATAR_API_KEY to talk "
            "to LiveAvatar)"
        )
        yield key, emu.base_url


async def _sessions(
    config: Config, args: argparse.Namespace, key: str | None, base: str | None
) -> int:
    from .. import LiveAvatarClient, NotFoundError
    from .progress import clean_text, jsonable, print_json
    from .run import CLIError

    async with LiveAvatarClient(api_key=key, base_url=base) as client:
        if args.words[1] == "list":
            sessions = await client.list_sessions(active=True)
            if config.json:
                print_json({"sessions": [jsonable(s.model_dump()) for s in sessions]})
            elif not sessions:
                print("no active sessions")
            for s in sessions if not config.json else []:
                print(clean_text(f"{s.id}  mode={s.mode}  created_at={s.created_at}"))
            return 0
        ids = args.words[2:] or [s.id for s in await client.list_sessions(active=True)]
        stopped, unknown = [], []
        for session_id in ids:
            try:  # idempotent: stopping a stopped one is fine
                await client.stop_session(session_id)
            except NotFoundError:  # a mistyped id must not keep the others running
                unknown.append(session_id)
                continue
            stopped.append(session_id)
            if not config.json:
                print(clean_text(f"stopped {session_id}"))
        if config.json:
            print_json({"stopped": stopped, "not_found": unknown})
        elif not ids:
            print("no active sessions")
        if unknown:
            raise CLIError(f"no such session: {', '.join(unknown)}")
        return 0


async def _avatar(client: LiveAvatarClient, args: argparse.Namespace, config: Config) -> str:
    if args.avatar:
        return str(args.avatar)
    avatars = await client.list_avatars()
    if not avatars:
        from .run import CLIError

        raise CLIError("the service lists no public avatar: pass --avatar ID")
    config.note(f"avatar: {avatars[0].name or avatars[0].id} ({avatars[0].id})")
    return avatars[0].id


async def _speak(
    config: Config, args: argparse.Namespace, key: str | None, base: str | None, *, emulator: bool
) -> int:
    from .. import LiveAvatarClient
    from .progress import Progress, format_report, jsonable, print_json

    lite = args.audio is not None
    stdin = args.words == ["-"]
    async with (
        LiveAvatarClient(api_key=key, base_url=base) as client,
        Progress("live", enabled=not config.quiet) as bar,
    ):
        t0 = time.perf_counter()
        bar.phase = "connecting"
        avatar = await _avatar(client, args, config)
        session = client.session(
            avatar_id=avatar,
            mode="lite" if lite else "full",
            voice_id=None if lite else args.voice,
            quality=args.quality,
            max_session_duration=max(1, round(args.max_seconds)),
            connect_timeout=args.connect_timeout,
        )
        async with session as s:
            connected = time.perf_counter() - t0
            config.note(f"session {s.session_id} connected in {connected:.1f} s")
            frames = _FrameCounter(s)
            recording = s.recording(args.out) if args.out else None
            recorder = await recording.__aenter__() if recording is not None else None
            try:
                bar.phase = "speaking"
                bar.status = frames.status
                if lite:
                    await s.speak_audio(args.audio, wait=True)
                elif stdin:
                    await _stdin(s)
                else:
                    await s.speak(" ".join(args.words), wait=True)
            finally:
                bar.phase = "stopping"
                if recording is not None:
                    await recording.__aexit__(None, None, None)
                await frames.stop()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "mode": s.mode.value,
            "emulator": emulator,
            "connect_s": connected,
            "video_frames": frames.video,
            "video_size": frames.size,
            "end_reason": str(s.end_reason),
            "elapsed_s": time.perf_counter() - t0,
        }
        if recorder is not None and recorder.info is not None:
            report.update(out=str(recorder.info.path), recorded_s=recorder.info.duration)
    if config.json:
        print_json(report)
    else:
        print("live: done" + (f", wrote {args.out}" if args.out else ""))
        print(format_report(jsonable(report), indent="  "))
    return 0


async def _stdin(s: LiveAvatarSession) -> None:
    from .speech import stdin_lines

    async for line in stdin_lines():
        if line.strip():
            await s.speak(line, wait=True)


class _FrameCounter:
    def __init__(self, s: LiveAvatarSession) -> None:
        self.video = 0
        self.size = ""
        self._task = asyncio.ensure_future(self._count(s))

    async def _count(self, s: LiveAvatarSession) -> None:
        async for frame in s.video(capacity=100):
            self.video += 1
            self.size = f"{frame.width}x{frame.height}"

    def status(self) -> str:
        return f"video {self.video} frames"

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
