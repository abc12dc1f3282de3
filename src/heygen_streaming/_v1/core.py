"""Everything behind a `Session`: its parts, the connect under its deadline, abnormal
ends and cleanup.

The parts: `Lifecycle` (the state and every wait), `Connector` (the connect steps),
`MediaHub` (pumps, streams, events, watchdog, recorders), `SpeechTracker`
(``speak(wait=True)``) and `stop_on_server` (cleanup's ``streaming.stop``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import (
    ConnectionFailed,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
    SessionError,
    SessionNotStopped,
)
from .._media.hub import cancel_task
from .._sessions import finish
from .channel import read_message
from .connect import Connector
from .events import ConnectionStateChanged, SessionEnded, TalkingStarted, TalkingStopped
from .hub import MediaHub
from .speech import SpeechTracker
from .state import EndReason, Lifecycle, SessionState
from .stop import stop_on_server

if TYPE_CHECKING:
    from .created import CreatedSession
    from .models import IceServer

__all__ = ["Options", "SessionCore"]

logger = logging.getLogger("heygen_streaming")
S = SessionState


class Options(Protocol):
    """The timeouts a session reads when it needs them (the `Session`'s attributes)."""

    connect_timeout: float
    watchdog_timeout: float | None
    keep_alive_interval: float | None
    stop_timeout: float


class SessionCore:
    """One session's parts and its life from connect to cleanup."""

    def __init__(
        self,
        client: Any,
        new_args: dict[str, Any],
        options: Options,
        *,
        ice_servers: Sequence[IceServer | dict[str, Any]] | None,
        ice_gather_timeout: float | None,
    ) -> None:
        self.client = client
        self.options = options
        self.life = Lifecycle(self.sid)
        self.hub = MediaHub(self._on_track_end)
        self.speech = SpeechTracker(self.life)
        self.connector = Connector(
            client,
            new_args,
            hub=self.hub,
            ice_override=ice_servers,
            gather_timeout=ice_gather_timeout,
            on_state=self._on_state,
            on_channel=self._on_channel,
        )
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[SessionNotStopped | None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.late_stop: asyncio.Task[None] | None = None
        self.stop_error: SessionNotStopped | None = None

    def sid(self) -> str:
        """The session id, or a placeholder before ``streaming.new`` answered."""
        info = self.connector.info
        return info.session_id if info is not None else "(no id yet)"

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return self.connector.states

    # -- connect ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Create the session and wait for its first frame, within ``connect_timeout``."""
        if not self.life.transition(S.CONNECTING):
            raise SessionClosed(
                "a Session is single use: create a new one with client.session()",
                reason=self.life.end_reason or "reused",
            )
        deadline = asyncio.timeout(self.options.connect_timeout)
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
        if not self.life.transition(S.CONNECTED):  # ended just as the first frame came
            await self.close()
            raise ConnectionFailed(self.life.end_message, states=self.connection_states)
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
        if life.end_reason is EndReason.CLOSED:
            raise SessionClosed("the session was closed while connecting", reason="closed")
        if life.ended:
            raise ConnectionFailed(
                life.end_message or "the session ended", states=self.connection_states
            )
        run.result()

    def _connect_error(self, exc: BaseException, expired: bool) -> BaseException:
        """Record why the connect failed; the exception to raise."""
        if isinstance(exc, TimeoutError) and expired:
            states = " -> ".join(self.connection_states) or "none"
            limit = f"connect_timeout={self.options.connect_timeout:g} s"
            message = f"no media within {limit} (states: {states})"
            self.die(EndReason.CONNECT_TIMEOUT, message)
            return ConnectTimeout(message)
        if isinstance(exc, asyncio.CancelledError):
            self.die(EndReason.CANCELLED, "the connect was cancelled")
            return exc
        self.die(EndReason.CONNECT_FAILED, f"connect failed: {type(exc).__name__}")
        if isinstance(exc, HeyGenError):
            return exc
        return ConnectionFailed(
            f"connect failed: {type(exc).__name__}: {exc}", states=self.connection_states
        )

    # -- peer callbacks ----------------------------------------------------------------

    def _on_track_end(self, kind: str, error: BaseException | None) -> None:
        detail = f": {type(error).__name__}" if error else ""
        self.die(EndReason.REMOTE_CLOSED, f"the {kind} track ended{detail}")

    def _on_state(self, state: str, previous: str | None) -> None:
        self.hub.emit(ConnectionStateChanged(state=state, previous=previous))
        if state in ("failed", "closed"):
            reason = EndReason.CONNECTION_FAILED if state == "failed" else EndReason.REMOTE_CLOSED
            states = " -> ".join(self.connection_states)
            self.die(reason, f"peer connection {state} (states: {states})")

    def _on_channel(self, channel: Any) -> None:
        @channel.on("message")  # type: ignore[untyped-decorator]
        def _message(message: Any) -> None:
            event = read_message(message)
            if isinstance(event, TalkingStarted):
                self.speech.talking_started(event.task_id)
            elif isinstance(event, TalkingStopped):
                self.speech.talking_stopped(event.task_id)
            if event is not None:
                self.hub.emit(event)

    def _on_stall(self, idle: float) -> None:
        message = f"no media for {idle:.1f} s (watchdog_timeout={self.options.watchdog_timeout})"
        self.die(EndReason.WATCHDOG, message)

    # -- death and cleanup -------------------------------------------------------------

    def die(self, reason: EndReason, message: str) -> None:
        """Abnormal end: streams raise `SessionClosed`, the stop is sent, media released."""
        was_connected = self.life.state is S.CONNECTED
        if not self.life.transition(S.FAILED, reason, message):
            return
        logger.warning("session %s ended: %s", self.sid(), message)
        self.hub.end(reason=reason, message=f"session ended ({reason}): {message}")
        self.hub.emit(SessionEnded(reason=reason, abnormal=True, message=message))
        if was_connected:
            self._start_stop()
            self._reaper = asyncio.ensure_future(self._release_media())

    async def _release_media(self) -> None:
        """Stop background work and close the peer (threads, sockets)."""
        await self.hub.stop_watchdog()
        await cancel_task(self._keep_alive_task)
        if self.connector.peer is not None:
            await self.connector.peer.close()

    def _start_stop(self) -> asyncio.Task[SessionNotStopped | None] | None:
        """Send ``streaming.stop`` now (once), if the session has an id."""
        info = self.connector.created()
        if self._stop_task is None and info is not None:
            self._stop_task = asyncio.ensure_future(
                stop_on_server(self.client, info.session_id, self.options.stop_timeout)
            )
        return self._stop_task

    async def close(self) -> None:
        """Clean up once (later calls wait for the same cleanup); sets `stop_error`.

        Sends ``streaming.stop`` at once (sent again if cancelled, bounded by
        ``stop_timeout``), concurrently with closing the peer (bounded) and the hub.
        """
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._cleanup())
        await asyncio.shield(self._close_task)

    async def _cleanup(self) -> None:
        failed = self.life.state is S.FAILED
        self.life.transition(S.CLOSING)
        stop = self._start_stop()
        new_task = self.connector.new_task
        if stop is None and new_task is not None and not new_task.done():
            self.late_stop = asyncio.ensure_future(self._stop_late(new_task))
        self.hub.end()
        peer = self.connector.peer
        release: list[Awaitable[Any]] = [self.hub.aclose(), cancel_task(self._keep_alive_task)]
        if self._reaper is not None:
            release.append(self._reaper)
        if peer is not None:
            release.append(peer.close())
        cancelled = await finish(asyncio.gather(*release, return_exceptions=True))
        if stop is not None:
            cancelled |= await finish(stop)
            self.stop_error = stop.result() if not stop.cancelled() else None
        self.life.transition(S.CLOSED)
        if not failed:
            self.hub.emit(SessionEnded(reason=EndReason.CLOSED))
        if cancelled:
            raise asyncio.CancelledError

    async def _stop_late(self, new_task: asyncio.Task[CreatedSession]) -> None:
        """The connect gave up while ``streaming.new`` was in flight: stop what it created."""
        try:
            info = await new_task
        except (Exception, asyncio.CancelledError):
            return
        sid = info.session_id
        logger.info("session %s was created after its connect gave up: stopping it", sid)
        await stop_on_server(self.client, info.session_id, self.options.stop_timeout)

    def check_usable(self) -> None:
        """Raise unless connected: `SessionClosed` once ended, else `SessionError`."""
        state = self.life.state
        if state is S.CONNECTED:
            return
        if state in (S.FAILED, S.CLOSING, S.CLOSED):
            reason = self.life.end_reason or EndReason.CLOSED
            if reason is EndReason.CLOSED:
                raise SessionClosed("the session is closed", reason=reason)
            message = f"session ended ({reason}): {self.life.end_message}"
            raise SessionClosed(message, reason=reason)
        raise SessionError("the session is not connected: use `async with client.session()`")

    async def _keep_alive_loop(self) -> None:
        assert self.options.keep_alive_interval is not None
        while True:
            await asyncio.sleep(self.options.keep_alive_interval)
            try:
                await self.client.keep_alive(self.sid())
            except NotFoundError:
                self.die(EndReason.REMOTE_CLOSED, "streaming.keep_alive: the session is gone")
                return
            except HeyGenError as exc:
                logger.warning("background keep_alive failed: %s", exc)
