"""The life of a session that connects to live media, shared by v1 and LiveAvatar.

A `MediaSessionCore` connects under one deadline (``connect_timeout``: from the first
request to the first frame), given up as soon as the session ends meanwhile; once
connected, it starts the watchdog and the keep-alive loop; an end it did not ask for
(`MediaSessionCore.die`: the service, the network, the watchdog) ends every stream with
`SessionClosed`, sends the stop and releases the media in the background. What differs
stays with each kind: its states and end reasons (a `Shape` names the ones this code
uses), its connect steps, how a failed connect is reported, its stop, its cleanup.

v3's `RealtimeCore` does not fit this shape (a stream played from a URL, not a
connection) and has its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from .._errors import ConnectTimeout, SessionClosed, SessionError, SessionNotStopped

if TYPE_CHECKING:
    from .._media.hub import MediaHub
    from .lifecycle import Lifecycle

__all__ = ["MediaSessionCore", "Options", "Shape"]

logger = logging.getLogger("heygen_streaming")

S = TypeVar("S", bound=Enum)
R = TypeVar("R", bound=str)


@dataclass(frozen=True)
class Shape(Generic[S, R]):
    """Which of a kind's states and end reasons play which part in the shared life:
    ``new -> connecting -> connected``; ``ended`` (an end it did not ask for), then
    ``closing -> closed``. The kind's own transition table allows exactly that."""

    new: S
    connecting: S
    connected: S
    ended: S
    closing: S
    closed: S
    closed_reason: R
    """The end reason of a close the program asked for."""
    watchdog_reason: R
    """The end reason when no media came for ``watchdog_timeout`` seconds."""


class Options(Protocol):
    """The timeouts a session reads when it needs them (the facade's attributes)."""

    connect_timeout: float
    watchdog_timeout: float | None
    keep_alive_interval: float | None
    stop_timeout: float


class Steps(Protocol):
    """The connect steps of a kind: its requests, its media, its first frame."""

    async def run(self) -> None:
        """Run them all; raise what failed (the core cleans up)."""


class MediaSessionCore(Generic[S, R]):
    """One session's life from connect to cleanup; a kind subclasses it with its parts.

    A subclass sets ``connector`` (its `Steps`), implements `sid`, `close`,
    `_connect_error`, `_ended_while_connecting`, `_ended_at_connect`, `_on_end`,
    `_start_stop`, `_release` and `_keep_alive_loop`, and names itself (``kind``, for log
    lines: ``"session"``) and its refusal of a second connect (``single_use``).
    """

    kind: ClassVar[str]
    single_use: ClassVar[str]
    connector: Steps

    def __init__(
        self, shape: Shape[S, R], life: Lifecycle[S, R], hub: MediaHub[Any], options: Options
    ) -> None:
        self.shape = shape
        self.life = life
        self.hub = hub
        self.options = options
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[SessionNotStopped | None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.late_stop: asyncio.Task[None] | None = None
        """A stop still running after the close (of a session created after its connect
        gave up); the client waits for it."""
        self.stop_error: SessionNotStopped | None = None

    def sid(self) -> str:
        """The session id, or a placeholder before the service gave one."""
        raise NotImplementedError

    # -- connect -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Run the connect steps and wait for the first frame, within ``connect_timeout``."""
        shape = self.shape
        if not self.life.transition(shape.connecting):
            raise SessionClosed(self.single_use, reason=self.life.end_reason or "reused")
        deadline = asyncio.timeout(self.options.connect_timeout)
        self._connect_started(asyncio.get_running_loop().time() + self.options.connect_timeout)
        try:
            async with deadline:
                await self._run_until_ended()
        except BaseException as exc:
            error = self._connect_error(exc, deadline.expired())
            await self.close()
            if self.stop_error is not None:
                error.add_note(str(self.stop_error))
            if error is exc:
                raise
            raise error from (None if isinstance(error, ConnectTimeout) else exc)
        if not self.life.transition(shape.connected):  # ended just as the first frame came
            await self.close()
            raise self._ended_at_connect()
        if self.options.watchdog_timeout is not None:
            self.hub.start_watchdog(self.options.watchdog_timeout, self._on_stall)
        if self.options.keep_alive_interval is not None:
            self._keep_alive_task = asyncio.ensure_future(self._keep_alive_loop())

    async def _run_until_ended(self) -> None:
        """The connect steps, given up as soon as the session ends (closed, failed)."""
        life = self.life
        run = asyncio.ensure_future(self.connector.run())
        ended = asyncio.ensure_future(life.wait_for(lambda: life.ended))
        try:
            await asyncio.wait({run, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (run, ended):
                task.cancel()
            await asyncio.gather(run, ended, return_exceptions=True)
        if life.ended:
            raise self._ended_while_connecting()
        run.result()

    def _connect_started(self, deadline: float) -> None:
        """The connect began; it must be done by loop time ``deadline``."""

    def _connect_error(self, exc: BaseException, expired: bool) -> BaseException:
        """Record why the connect failed (``expired``: its deadline passed); the exception
        to raise."""
        raise NotImplementedError

    def _ended_while_connecting(self) -> BaseException:
        """The error of a connect given up because the session ended meanwhile."""
        raise NotImplementedError

    def _ended_at_connect(self) -> BaseException:
        """The error of a session that ended just as its first frame came."""
        raise NotImplementedError

    # -- ends ------------------------------------------------------------------------------

    def check_usable(self) -> None:
        """Raise unless connected: `SessionClosed` once ended, else `SessionError`."""
        shape, state = self.shape, self.life.state
        if state is shape.connected:
            return
        if state in (shape.ended, shape.closing, shape.closed):
            reason = self.life.end_reason or shape.closed_reason
            if reason is shape.closed_reason:
                raise SessionClosed("the session is closed", reason=reason)
            raise SessionClosed(f"session ended ({reason}): {self.life.end_message}", reason=reason)
        raise SessionError("the session is not connected: use `async with client.session()`")

    def die(self, reason: R, message: str) -> None:
        """An end the program did not ask for: streams raise `SessionClosed`, waits end, the
        stop is sent and the media released in the background."""
        was_connected = self.life.state is self.shape.connected
        if not self.life.transition(self.shape.ended, reason, message):
            return
        logger.warning("%s %s ended: %s", self.kind, self.sid(), message)
        text = f"session ended ({reason}): {message}"
        self.hub.end(reason=reason, message=text)
        self._on_end(reason, message, text)
        if was_connected:
            self._start_stop()
            self._reaper = asyncio.ensure_future(self._release())

    def _on_stall(self, idle: float) -> None:
        message = f"no media for {idle:.1f} s (watchdog_timeout={self.options.watchdog_timeout})"
        self.die(self.shape.watchdog_reason, message)

    def _on_end(self, reason: R, message: str, text: str) -> None:
        """Tell the session's readers it ended (its final event; ``text``: the streams'
        message)."""
        raise NotImplementedError

    def _start_stop(self) -> Awaitable[SessionNotStopped | None] | None:
        """Send the stop now (once), if there is a session to stop."""
        raise NotImplementedError

    async def _release(self) -> None:
        """Stop the background work and release the media (an end it did not ask for)."""
        raise NotImplementedError

    async def _keep_alive_loop(self) -> None:
        raise NotImplementedError

    # -- close -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Clean up once (later calls wait for the same cleanup); sets `stop_error`."""
        raise NotImplementedError
