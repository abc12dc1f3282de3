"""What every ``heygen-streaming`` session command shares: configuration, the client (or an
embedded emulator), the session with its frame counter and progress line, the checks on
how it ended, and the stop confirmed after Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import HeyGenError, NotFoundError, SessionEnded, SessionState, TalkingStopped
from .._client import StreamingClient, check_recording_path
from .progress import Progress, clean_text

if TYPE_CHECKING:
    from .. import EventStream, Session, TaskInfo

__all__ = [
    "CLIError",
    "Config",
    "MediaCounter",
    "Run",
    "Target",
    "check_output",
    "finish_interrupted",
    "open_client",
    "open_run",
    "quiet_teardown",
    "settle_if_cut_short",
    "stdin_lines",
]

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
    # The session being connected on the configured service, until connected.
    opening: Session | None = field(default=None, repr=False)
    sessions: list[Session] = field(default_factory=list, repr=False)
    """Sessions the command opened (to report one whose stop was not confirmed)."""

    def unstopped(self, reported: BaseException | None = None) -> list[str]:
        """One-line messages of the sessions whose stop failed, except ``reported``."""
        return [
            clean_text(str(s.stop_error), self.api_key, limit=1000)
            for s in self.sessions
            if s.stop_error is not None and s.stop_error is not reported
        ]

    def note(self, text: str) -> None:
        """A human note on stderr (suppressed by ``--quiet``)."""
        if not self.quiet:
            print(clean_text(text, self.api_key), file=sys.stderr, flush=True)


async def quiet_teardown(command: Awaitable[int]) -> int:
    """``command`` with asyncio's reports of what a second Ctrl-C cut short silenced.

    The second Ctrl-C raises ``KeyboardInterrupt`` inside whatever task runs, and
    ``asyncio.run`` cancels the others: asyncio then reports those tasks ("exception was
    never retrieved", "destroyed but it is pending") with tracebacks that say nothing to
    the user. The CLI confirms the session's stop itself (`finish_interrupted`).
    """
    asyncio.get_running_loop().set_exception_handler(_report)
    return await command


_interrupted: list[bool] = []


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if isinstance(context.get("exception"), KeyboardInterrupt):
        _interrupted.append(True)
        return
    if _interrupted and str(context.get("message", "")).startswith("Task was destroyed"):
        return
    loop.default_exception_handler(context)


def finish_interrupted(config: Config) -> list[str]:
    """After Ctrl-C: make sure the session left unconfirmed is stopped; lines to print.

    A second Ctrl-C can cut the session's own cleanup short. This sends ``streaming.stop``
    once more (bounded; "not found" means it was stopped) and, if that cannot be confirmed
    either, names the session and the command that stops it.
    """
    _interrupted.append(True)
    session_id, opening = config.unconfirmed, config.opening
    if session_id is None and opening is not None:
        with contextlib.suppress(HeyGenError):  # the answer may have been read after all
            session_id = opening.session_id
        if session_id is None and opening._creation_unknown():
            return [
                "a session may have been created (Ctrl-C while streaming.new was answering) "
                "and not stopped: `heygen-streaming sessions list` shows it, "
                "`heygen-streaming sessions stop ID` stops it"
            ]
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
        from ..emulator import Emulator
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
        check_recording_path(path)
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
        config.sessions.append(session)  # main() reports a stop it could not confirm
        if not target.emulator:
            config.opening = session  # main() warns if a second Ctrl-C hid its id
        try:
            await session.__aenter__()
        except asyncio.CancelledError:  # Ctrl-C while connecting: main confirms the stop
            if not target.emulator:
                with contextlib.suppress(HeyGenError):  # no id: streaming.new never answered
                    config.unconfirmed = session.session_id
            raise
        if not target.emulator:
            config.unconfirmed = session.session_id
        config.opening = None
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


async def stdin_lines() -> AsyncIterator[str]:
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
