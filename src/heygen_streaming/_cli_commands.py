"""The subcommands of ``heygen-streaming``: each is a coroutine ``(config, args) -> exit code``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ._cli_progress import Progress, format_report, jsonable, print_json
from ._client import StreamingClient
from ._errors import NotFoundError, SessionStateError, sanitize
from ._options import already_stopped, check_text
from ._recording import container_codecs
from ._state import EndReason

if TYPE_CHECKING:
    from ._session import Session
    from ._stats import SessionStats

__all__ = ["COMMANDS", "CLIError", "Config"]

_TAIL = 0.3  # seconds recorded after speech ends, so the last syllable is kept


class CLIError(Exception):
    """A command-line failure reported as one line with exit code 1."""


@dataclass
class Config:
    """Resolved global options. ``api_key`` never appears in the repr."""

    api_key: str | None = field(repr=False)
    base_url: str | None
    quiet: bool = False
    json: bool = False
    debug: bool = False
    log_level: str = "error"
    sessions: list[Session] = field(default_factory=list, repr=False)
    """Sessions the command opened (to report one whose stop was not confirmed)."""

    def unstopped(self, reported: BaseException | None = None) -> list[str]:
        """One-line messages of the sessions whose stop failed, except ``reported``."""
        return [
            sanitize(str(s.stop_error), limit=1000)
            for s in self.sessions
            if s.stop_error is not None and s.stop_error is not reported
        ]

    def note(self, text: str) -> None:
        """A human note on stderr (suppressed by ``--quiet``)."""
        if not self.quiet:
            print(sanitize(text, limit=2000), file=sys.stderr, flush=True)


@dataclass
class Target:
    """Where a command talks to: a client plus, for the embedded emulator, its URL."""

    client: StreamingClient
    base_url: str
    emulator: bool


@asynccontextmanager
async def open_client(config: Config, *, emulator: bool) -> AsyncIterator[Target]:
    """A client for the configured service, or for an embedded emulator.

    ``emulator=True`` means: use an embedded emulator (forced, or nothing configured).
    """
    if not emulator:
        async with StreamingClient(api_key=config.api_key, base_url=config.base_url) as client:
            yield Target(client, client.base_url, emulator=False)
        return
    try:
        from .emulator import Emulator
    except ImportError as exc:
        raise CLIError(
            "no API key is configured and the embedded emulator is not installed "
            f"(missing {exc.name or exc}): set HEYGEN_API_KEY, or "
            "pip install 'heygen-streaming[emulator]'"
        ) from exc
    key = "emu-" + secrets.token_urlsafe(12)
    async with Emulator(api_key=key, port=0) as emu:
        config.note(
            f"using an embedded emulator at {emu.base_url} (set HEYGEN_API_KEY to talk to HeyGen)"
        )
        async with StreamingClient(api_key=key, base_url=emu.base_url) as client:
            yield Target(client, emu.base_url, emulator=True)


class MediaCounter:
    """Counts the frames a session delivers, from a moment on (for reports and progress)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.video_frames = 0
        self.audio_frames = 0
        self.first_video_at: float | None = None
        self.first_video = asyncio.Event()
        self.last_size: tuple[int, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Subscribe to both streams."""
        self._tasks = [
            asyncio.create_task(self._count_video(), name="heygen-cli-video"),
            asyncio.create_task(self._count_audio(), name="heygen-cli-audio"),
        ]

    async def stop(self) -> None:
        """Unsubscribe."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []

    def status(self) -> str:
        """Text for the progress line."""
        return f"video {self.video_frames} frames  audio {self.audio_frames} frames"

    async def _count_video(self) -> None:
        async for frame in self.session.video():
            if self.first_video_at is None:
                self.first_video_at = time.perf_counter()
                self.first_video.set()
            self.video_frames += 1
            self.last_size = (frame.width, frame.height)

    async def _count_audio(self) -> None:
        async for _frame in self.session.audio():
            self.audio_frames += 1


@dataclass
class Run:
    """One session opened by a command, with its frame counter and progress line."""

    target: Target
    session: Session
    counter: MediaCounter
    t0: float
    connected: float
    wait_limit: float

    async def first_frame(self) -> None:
        """Wait for the first video frame (or fail with a one-line error)."""
        try:
            async with asyncio.timeout(self.wait_limit):
                await self.counter.first_video.wait()
        except TimeoutError:
            raise CLIError(f"no video frame within {self.wait_limit:g} s") from None

    async def wait_end(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the session ends first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), self.session.events() as events:
                async for _event in events:
                    pass

    def check_ended(self) -> None:
        """Raise `CLIError` if the session ended without the command closing it."""
        s = self.session
        if s.end_reason not in (None, EndReason.CLOSED):
            raise CLIError(
                f"session {s.session_id} ended before the command finished ({s.end_reason})"
            )


def check_output(path: str | None) -> None:
    """Reject an unusable output file before a (billable) session is opened."""
    if path is None:
        return
    try:
        container_codecs(path)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError(f"cannot write {path}: folder {parent} does not exist")


@asynccontextmanager
async def open_run(
    config: Config, args: argparse.Namespace, label: str, *, live: bool = True
) -> AsyncIterator[Run]:
    """Client (or embedded emulator) -> session -> frame counter + progress line (``live``)."""
    check_output(getattr(args, "out", None))
    emulator = bool(getattr(args, "emulator", False)) or not (config.api_key or config.base_url)
    async with (
        open_client(config, emulator=emulator) as target,
        Progress(label, enabled=live and not config.quiet) as bar,
    ):
        t0 = time.perf_counter()
        bar.status = lambda: "connecting"
        session = target.client.session(
            avatar=args.avatar or None,
            voice=args.voice or None,
            quality=args.quality,
            connect_timeout=args.connect_timeout,
        )
        config.sessions.append(session)  # main() reports a stop it could not confirm
        async with session:
            counter = MediaCounter(session)
            bar.status = counter.status
            counter.start()
            try:
                yield Run(target, session, counter, t0, time.perf_counter(), args.connect_timeout)
            finally:
                await counter.stop()


def _file_report(path: str) -> dict[str, Any]:
    return {"out": os.path.abspath(path), "bytes": os.path.getsize(path)}


def _emit(config: Config, report: dict[str, Any], title: str) -> None:
    if config.json:
        print_json(report)
    else:
        print(title)
        print(format_report(jsonable(report), indent="  "))


async def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    """``demo``: connect, speak, record, report."""
    check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "demo") as run:
        s = run.session
        await run.first_frame()
        async with s.recording(args.out):
            task = await s.speak(args.text, wait=True)
            await asyncio.sleep(_TAIL)
        run.check_ended()
        stats = await s.stats()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "base_url": run.target.base_url,
            "quality": args.quality,
            "connect_ms": (run.connected - run.t0) * 1000,
            "first_frame_ms": _first_frame_ms(stats, run),
            "video_size": "x".join(map(str, run.counter.last_size or ())),
            "video_frames": run.counter.video_frames,
            "audio_frames": run.counter.audio_frames,
            "dropped_frames": stats.video.frames_dropped + stats.audio.frames_dropped,
            "task_id": task.task_id,
            "speech_ms": task.duration_ms,
            "stats": _stats_report(stats),
        }
    report["elapsed_s"] = time.perf_counter() - run.t0
    report.update(_file_report(args.out))
    _emit(config, report, f"demo: wrote {args.out}")
    return 0


async def cmd_speak(config: Config, args: argparse.Namespace) -> int:
    """``speak TEXT``: speak once (and record it with ``--out``)."""
    check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "speak") as run, AsyncExitStack() as stack:
        s = run.session
        if args.out:
            await run.first_frame()
            await stack.enter_async_context(s.recording(args.out))
        task = await s.speak(args.text, task_type=args.task_type, wait=True)
        if args.out:
            await asyncio.sleep(_TAIL)
        await stack.aclose()
        run.check_ended()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "task_id": task.task_id,
            "speech_ms": task.duration_ms,
            "video_frames": run.counter.video_frames,
            "audio_frames": run.counter.audio_frames,
        }
    if args.out:
        report.update(_file_report(args.out))
    _emit(config, report, "speak: done" + (f", wrote {args.out}" if args.out else ""))
    return 0


async def cmd_record(config: Config, args: argparse.Namespace) -> int:
    """``record --seconds N --out FILE``."""
    if args.text:
        check_text(args.text)  # before a (billable) session is opened
    async with open_run(config, args, "record") as run:
        s = run.session
        await run.first_frame()
        async with s.recording(args.out) as recorder:
            if args.text:
                await s.speak(args.text)
            await run.wait_end(args.seconds)
        stats = await s.stats()
        info = recorder.info
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "seconds": round(info.duration, 3) if info is not None else 0.0,
            "video_frames": run.counter.video_frames,
            "audio_frames": run.counter.audio_frames,
            "dropped_frames": stats.video.frames_dropped + stats.audio.frames_dropped,
            "stats": _stats_report(stats),
        }
        report.update(_file_report(args.out))
        _emit(config, report, f"record: wrote {args.out}")
        run.check_ended()
    return 0


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read by a daemon thread so that Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="heygen-cli-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line.rstrip("\r\n")


async def cmd_chat(config: Config, args: argparse.Namespace) -> int:
    """``chat``: speak each line of stdin until EOF or Ctrl-C."""
    interactive = sys.stdin.isatty() and not config.quiet
    prompt = "> " if interactive else ""
    spoken = 0
    async with open_run(config, args, "chat", live=False) as run, AsyncExitStack() as stack:
        s = run.session
        if args.out:
            await stack.enter_async_context(s.recording(args.out))
        config.note(
            f"connected (session {s.session_id}): type a line to speak it, Ctrl-D or Ctrl-C to quit"
        )
        print(prompt, end="", file=sys.stderr, flush=True)
        async for line in _stdin_lines():
            if line.strip():
                task = await s.speak(line, task_type=args.task_type, wait=args.wait)
                spoken += 1
                if config.json:
                    print_json({"task_id": task.task_id, "speech_ms": task.duration_ms})
                elif not config.quiet:
                    secs = f"{task.duration_ms / 1000:.1f} s" if task.duration_ms else "?"
                    print(sanitize(f"spoke task {task.task_id} ({secs})"), flush=True)
            print(prompt, end="", file=sys.stderr, flush=True)
        if interactive:
            print(file=sys.stderr)
    config.note(f"session {s.session_id} stopped after {spoken} line(s)")
    if args.out:
        config.note(f"wrote {args.out}")
    return 0


async def cmd_sessions(config: Config, args: argparse.Namespace) -> int:
    """``sessions list`` / ``sessions stop ID...``."""
    if not (config.api_key or config.base_url):
        raise CLIError("no API key: set HEYGEN_API_KEY or pass --api-key")
    async with open_client(config, emulator=False) as target:
        client = target.client
        if args.action == "list":
            sessions = await client.list_sessions()
            if config.json:
                print_json({"sessions": sessions})
            elif not sessions:
                print("no open sessions")
            else:
                for item in sessions:
                    extra = {k: v for k, v in jsonable(item).items() if k != "session_id"}
                    if isinstance(item.created_at, int | float):
                        with contextlib.suppress(OverflowError, ValueError, OSError):
                            created = datetime.fromtimestamp(item.created_at, UTC)
                            extra["created_at"] = created.isoformat(timespec="seconds")
                    details = "  ".join(f"{k}={v}" for k, v in extra.items() if v is not None)
                    print(sanitize(f"{item.session_id}  {details}", limit=2000))
            return 0
        stopped: list[str] = []
        for session_id in args.session_ids:
            try:
                await client.stop_session(session_id)
            except (NotFoundError, SessionStateError) as exc:
                if not already_stopped(exc):
                    raise
                config.note(f"{session_id} was not open (already stopped): {exc.message}")
            stopped.append(session_id)
            if not config.json:
                print(f"stopped {sanitize(session_id)}")
        if config.json:
            print_json({"stopped": stopped})
        return 0


def _first_frame_ms(stats: SessionStats, run: Run) -> float | None:
    """Time from opening the session to its first video frame."""
    if stats.video.first_frame_after is not None:
        return stats.video.first_frame_after * 1000
    if run.counter.first_video_at is not None:
        return (run.counter.first_video_at - run.t0) * 1000
    return None


def _stats_report(stats: SessionStats) -> dict[str, Any]:
    """The per-kind inbound stats, without aiortc's raw objects."""
    report: dict[str, Any] = {"connection_state": stats.connection_state}
    for inbound in (stats.video, stats.audio):
        item = jsonable(inbound)
        for key in ("kind", "ssrc", "first_frame_after"):
            item.pop(key, None)
        item["jitter_ms"] = round(inbound.jitter * 1000, 2)
        item.pop("jitter", None)
        report[inbound.kind] = item
    return report


Command = Callable[[Config, argparse.Namespace], Coroutine[Any, Any, int]]

COMMANDS: dict[str, Command] = {
    "demo": cmd_demo,
    "speak": cmd_speak,
    "record": cmd_record,
    "chat": cmd_chat,
    "sessions": cmd_sessions,
}
