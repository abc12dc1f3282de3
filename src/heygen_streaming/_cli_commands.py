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

from ._cli_progress import Progress, clean_text, format_report, jsonable, print_json
from ._client import StreamingClient
from ._errors import HeyGenError, NotFoundError
from ._events import SessionEnded, TalkingStopped
from ._recording import container_codecs
from ._state import SessionState

if TYPE_CHECKING:
    from ._events import EventStream
    from ._models import TaskInfo
    from ._session import Session
    from ._stats import SessionStats

__all__ = ["COMMANDS", "CLIError", "Config", "finish_interrupted"]

_TAIL = 0.3  # seconds recorded after speech ends, so the last syllable is kept
_STOP_AFTER_INTERRUPT = 5.0  # seconds allowed to confirm a stop after a double Ctrl-C
_SETTLE = 3.0  # seconds allowed for the end of a session whose speech was cut short
_CUT_MS = 500.0  # speech this much shorter than planned was cut short


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
    # The session on the configured service whose streaming.stop is not confirmed: set
    # while it is open and left set when Ctrl-C interrupted its cleanup.
    unconfirmed: str | None = None

    def note(self, text: str) -> None:
        """A human note on stderr (suppressed by ``--quiet``)."""
        if not self.quiet:
            print(clean_text(text, self.api_key), file=sys.stderr, flush=True)


def finish_interrupted(config: Config) -> list[str]:
    """After Ctrl-C: make sure the session left unconfirmed is stopped; lines to print.

    A second Ctrl-C can cut the session's own cleanup short. This sends ``streaming.stop``
    once more (bounded; "not found" means it was stopped) and, if that cannot be confirmed
    either, names the session and the command that stops it.
    """
    session_id = config.unconfirmed
    if session_id is None:
        return []
    command = f"heygen-streaming sessions stop {session_id}"

    async def stop() -> None:
        async with (
            asyncio.timeout(_STOP_AFTER_INTERRUPT),
            StreamingClient(api_key=config.api_key, base_url=config.base_url) as client,
        ):
            with contextlib.suppress(NotFoundError):
                await client.stop_session(session_id)

    try:
        asyncio.run(stop())
    except (Exception, KeyboardInterrupt) as exc:
        why = type(exc).__name__
        return [f"session {session_id} may still be open ({why} while stopping it): `{command}`"]
    config.unconfirmed = None
    return [f"session {session_id} stopped"]


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
        """Totals for the progress line."""
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
    progress: Progress

    async def first_frame(self) -> None:
        """Wait for the first video frame (or fail with a one-line error)."""
        try:
            async with asyncio.timeout(self.wait_limit):
                await self.counter.first_video.wait()
        except TimeoutError:
            raise CLIError(f"no video frame within {self.wait_limit:g} s") from None


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
    """Client (or embedded emulator) -> session -> frame counter + progress line (``live``).

    Leaving it stops the session; a session the server ended meanwhile raises `CLIError`
    with the reason (exit code 1), even when no command noticed it.
    """
    check_output(getattr(args, "out", None))
    emulator = bool(getattr(args, "emulator", False)) or not (config.api_key or config.base_url)
    async with (
        open_client(config, emulator=emulator) as target,
        Progress(label, enabled=live and not config.quiet) as bar,
    ):
        t0 = time.perf_counter()
        bar.phase = "connecting"
        session = target.client.session(
            avatar=args.avatar or None,
            voice=args.voice or None,
            quality=args.quality,
            connect_timeout=args.connect_timeout,
        )
        try:
            await session.__aenter__()
        except asyncio.CancelledError:  # Ctrl-C while connecting: main confirms the stop
            if not target.emulator:
                with contextlib.suppress(HeyGenError):  # no id: streaming.new never answered
                    config.unconfirmed = session.session_id
            raise
        if not target.emulator:
            config.unconfirmed = session.session_id
        counter = MediaCounter(session)
        bar.status = counter.status
        counter.start()
        run = Run(target, session, counter, t0, time.perf_counter(), args.connect_timeout, bar)
        try:
            yield run
            ended = _abnormal_end(session)
            if ended is not None:
                raise CLIError(f"session {session.session_id} was ended by the server: {ended}")
        except BaseException as exc:
            await counter.stop()
            bar.phase = "stopping"
            interrupted = isinstance(exc, asyncio.CancelledError)
            try:
                await session.__aexit__(type(exc), exc, exc.__traceback__)
            except HeyGenError:  # e.g. the stop was not confirmed
                if not interrupted:
                    raise
                raise exc from None  # Ctrl-C stays Ctrl-C: main retries the stop, names it
            if not interrupted:  # after Ctrl-C, main confirms the stop
                config.unconfirmed = None
            raise
        await counter.stop()
        bar.phase = "stopping"
        await session.__aexit__(None, None, None)
        config.unconfirmed = None


async def settle_if_cut_short(events: EventStream, task: TaskInfo) -> None:
    """If ``task``'s speech stopped well before its planned end, wait (bounded) for the
    session to end: a server interrupts the speech as it closes a session, and the close
    arrives just after. `open_run` then reports the end. ``events`` was subscribed before
    the task was sent; only what it already holds is read for the stop."""
    played: float | None = None
    ended = False
    while len(events):
        event = await anext(events)
        if isinstance(event, TalkingStopped) and event.task_id == task.task_id:
            played = event.duration_ms
        ended = ended or isinstance(event, SessionEnded)
    planned = task.duration_ms
    if ended or played is None or not planned or played > planned - _CUT_MS:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_SETTLE):
            async for event in events:
                if isinstance(event, SessionEnded):
                    return


def _abnormal_end(session: Session) -> str | None:
    """The `EndReason` when the session ended abnormally (the server, the network)."""
    if session.state != SessionState.FAILED:
        return None
    return str(session.end_reason)


def _file_report(path: str) -> dict[str, Any]:
    return {"out": os.path.abspath(path), "bytes": os.path.getsize(path)}


def _emit(config: Config, report: dict[str, Any], title: str) -> None:
    if config.json:
        print_json(report)
    else:
        print(clean_text(title))
        print(format_report(jsonable(report), indent="  "))


async def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    """``demo``: connect, speak, record, report."""
    async with open_run(config, args, "demo") as run:
        s = run.session
        await run.first_frame()
        async with s.recording(args.out):
            run.progress.phase = "speaking"
            events = s.events()
            task = await s.speak(args.text, wait=True)
            await settle_if_cut_short(events, task)
            events.close()
            await asyncio.sleep(_TAIL)
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
    async with open_run(config, args, "speak") as run, AsyncExitStack() as stack:
        s = run.session
        if args.out:
            await run.first_frame()
            await stack.enter_async_context(s.recording(args.out))
        run.progress.phase = "speaking"
        events = s.events()
        task = await s.speak(args.text, task_type=args.task_type, wait=True)
        await settle_if_cut_short(events, task)
        events.close()
        if args.out:
            await asyncio.sleep(_TAIL)
        await stack.aclose()
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
    """``record --seconds N --out FILE``: reports the seconds actually recorded."""
    async with open_run(config, args, "record") as run:
        s = run.session
        await run.first_frame()
        run.progress.phase = "recording"
        started = time.monotonic()
        run.progress.status = lambda: (
            f"{min(time.monotonic() - started, args.seconds):.1f} of {args.seconds:g} s  "
            + run.counter.status()
        )
        recording = asyncio.create_task(s.record(args.out, duration=args.seconds))
        try:
            if args.text:
                await asyncio.sleep(0)  # let the recorder start before the speech is sent
                await s.speak(args.text)
            info = await recording
        finally:
            if not recording.done():
                recording.cancel()
                await asyncio.gather(recording, return_exceptions=True)
        stats = await s.stats()
        report: dict[str, Any] = {
            "session_id": s.session_id,
            "emulator": run.target.emulator,
            "seconds": info.duration,
            "requested_seconds": args.seconds,
            "video_frames": info.video_frames,
            "audio_frames": info.audio_frames,
            "dropped_frames": stats.video.frames_dropped + stats.audio.frames_dropped,
            "stats": _stats_report(stats),
        }
    report.update(_file_report(args.out))
    _emit(config, report, f"record: wrote {args.out} ({info.duration:.1f} s)")
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
                    print(clean_text(f"spoke task {task.task_id} ({secs})"), flush=True)
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
                        created = datetime.fromtimestamp(item.created_at, UTC)
                        extra["created_at"] = created.isoformat(timespec="seconds")
                    details = "  ".join(f"{k}={v}" for k, v in extra.items() if v is not None)
                    print(clean_text(f"{item.session_id}  {details}".rstrip()))
            return 0
        stopped: list[str] = []
        not_open: list[str] = []
        for session_id in args.session_ids:
            try:
                await client.stop_session(session_id)
            except NotFoundError:  # already stopped (or never existed): nothing is open
                not_open.append(session_id)
                if not config.json:
                    print(clean_text(f"{session_id} is not open (already stopped, or unknown)"))
                continue
            stopped.append(session_id)
            if not config.json:
                print(clean_text(f"stopped {session_id}"))
        if config.json:
            print_json({"stopped": stopped, "not_open": not_open})
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
