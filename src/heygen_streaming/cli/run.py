"""What every ``heygen-streaming`` session command shares: configuration, the client (or an
embedded emulator), the session with its frame counter and progress line, the checks on
how it ended, and the stop confirmed after Ctrl-C. What they read and wait for (stdin,
queued speech) is in ``speech``, re-exported here."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import HeyGenError, NotFoundError, SessionState
from .._client import StreamingClient, check_recording_path
from .progress import Progress, clean_text
from .speech import SpeechQueue, settle_if_cut_short, stdin_lines

if TYPE_CHECKING:
    from .. import Session

__all__ = [
    "HEYGEN",
    "HEYGEN_HOST",
    "LIVEAVATAR",
    "CLIError",
    "Config",
    "MediaCounter",
    "Run",
    "Service",
    "SpeechQueue",
    "Target",
    "UsageError",
    "check_output",
    "check_v1_target",
    "finish_interrupted",
    "open_client",
    "open_run",
    "quiet_teardown",
    "settle_if_cut_short",
    "stdin_lines",
]

_STOP_AFTER_INTERRUPT = 5.0  # seconds allowed to confirm a stop after a double Ctrl-C


HEYGEN_HOST = "api.heygen.com"
"""HeyGen's API host: the v1 commands refuse it (it answers HTTP 410 since 2026)."""


class CLIError(Exception):
    """A command-line failure reported as one line with exit code 1."""


class UsageError(CLIError):
    """The command cannot run as typed (arguments, configuration): exit code 2, no request
    sent."""


@dataclass(frozen=True)
class Service:
    """A service the command line talks to: how its key and base URL are configured."""

    name: str
    key_env: str
    base_env: str
    default_base: str


HEYGEN = Service("HeyGen", "HEYGEN_API_KEY", "HEYGEN_BASE_URL", "https://api.heygen.com")
LIVEAVATAR = Service(
    "LiveAvatar", "LIVEAVATAR_API_KEY", "LIVEAVATAR_BASE_URL", "https://api.liveavatar.com"
)


@dataclass
class Config:
    """Resolved global options. ``api_key`` never appears in the repr."""

    api_key: str | None = field(repr=False)
    base_url: str | None
    base_url_flag: bool = False
    """``--base-url`` was given (``demo`` ignores ``$HEYGEN_BASE_URL`` and the key alone)."""
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
    service: Service = field(default_factory=lambda: HEYGEN)
    """Whose key and base URL the command uses (the words of its error hints)."""

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
async def open_client(
    config: Config, *, emulator: bool, why: str = "set HEYGEN_API_KEY to talk to HeyGen"
) -> AsyncIterator[Target]:
    """A client for the configured service, or for an embedded emulator.

    ``emulator=True`` means: use an embedded emulator (forced, or nothing configured); its
    note on stderr ends with ``why`` (what a key holder should know).
    """
    if not emulator:
        if not config.api_key:
            raise UsageError(
                f"no API key for {config.base_url or 'https://' + HEYGEN_HOST}: pass --api-key "
                "KEY or set HEYGEN_API_KEY (a `heygen-streaming emulator` takes the key it was "
                "started with, or any key if it was started without --api-key)"
            )
        async with StreamingClient(api_key=config.api_key, base_url=config.base_url) as client:
            yield Target(client, client.base_url, emulator=False)
        return
    try:
        from ..emulator import Emulator
    except ImportError as exc:
        raise CLIError(
            "the embedded emulator is not installed "
            f"(missing {exc.name or exc}): pip install 'heygen-streaming[emulator]'"
        ) from exc
    key = "emu-" + secrets.token_urlsafe(12)
    async with Emulator(api_key=key, port=0) as emu:
        config.note(f"using an embedded emulator at {emu.base_url} ({why})")
        async with StreamingClient(api_key=key, base_url=emu.base_url) as client:
            yield Target(client, emu.base_url, emulator=True)


def is_heygen(config: Config) -> bool:
    """The configured service is HeyGen's own API (the default base URL included)."""
    host = urlsplit(config.base_url or f"https://{HEYGEN_HOST}").hostname or ""
    return host.lower().rstrip(".") == HEYGEN_HOST


def check_v1_target(config: Config, command: str) -> None:
    """Refuse to send a Streaming API v1 command to HeyGen: it answers HTTP 410 there."""
    if is_heygen(config):
        raise UsageError(
            f"`{command}` uses Streaming API v1, which HeyGen retired in 2026 (it answers "
            "HTTP 410): with a HeyGen key use Avatar Realtime, `heygen-streaming realtime "
            '"Hello" --avatar ID --voice ID --out clip.mp4`; v1 commands run against the '
            "emulator (--emulator, or --base-url URL of `heygen-streaming emulator`)"
        )


_V1_NOTE = (
    "Streaming API v1, which HeyGen retired: with a HeyGen key, use `heygen-streaming realtime`"
)


def uses_embedded_emulator(config: Config, args: argparse.Namespace, command: str) -> bool:
    """Whether a v1 session command runs on an embedded emulator.

    ``demo`` always does, unless ``--base-url`` names a server: it is the offline demo, and
    a key for HeyGen (``$HEYGEN_API_KEY``) cannot run it (v1 is retired there). The other
    commands do when nothing is configured, or with ``--emulator``.
    """
    if getattr(args, "emulator", False):
        return True
    if command == "demo":
        return not config.base_url_flag
    return not (config.api_key or config.base_url)


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
        raise UsageError(str(exc)) from None
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
    emulator = uses_embedded_emulator(config, args, label)
    if not emulator:
        check_v1_target(config, label)
    why = _V1_NOTE
    if label == "demo" and (config.api_key or config.base_url):
        why = (
            "the demo runs offline whatever $HEYGEN_API_KEY / $HEYGEN_BASE_URL say; "
            "--base-url URL runs it against a `heygen-streaming emulator`. " + _V1_NOTE
        )
    async with (
        open_client(config, emulator=emulator, why=why) as target,
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


def _abnormal_end(session: Session) -> str | None:
    """The `EndReason` when the session ended abnormally (the server, the network)."""
    if session.state != SessionState.FAILED:
        return None
    return str(session.end_reason)
