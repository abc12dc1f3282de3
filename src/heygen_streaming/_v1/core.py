"""Everything behind a `Session`: its parts, how its connect fails, abnormal ends and
cleanup.

The parts: `Lifecycle` (the state and every wait), `Connector` (the connect steps),
`MediaHub` (pumps, streams, events, watchdog, recorders), `SpeechTracker`
(``speak(wait=True)``) and `stop_on_server` (cleanup's ``streaming.stop``). The connect
under its deadline, the watchdog and the shape of an abnormal end are the shared
``_sessions.core``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import (
    ConnectionFailed,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
    SessionNotStopped,
)
from .._media.hub import cancel_task
from .._sessions import finish
from .._sessions.core import MediaSessionCore, Options
from .channel import read_message
from .connect import Connector
from .events import ConnectionStateChanged, SessionEnded, TalkingStarted, TalkingStopped
from .hub import MediaHub
from .speech import SpeechTracker
from .state import SHAPE, EndReason, Lifecycle, SessionState
from .stop import stop_on_server

if TYPE_CHECKING:
    from .created import CreatedSession
    from .models import IceServer

__all__ = ["SessionCore"]

logger = logging.getLogger("heygen_streaming")
S = SessionState


class SessionCore(MediaSessionCore[SessionState, EndReason]):
    """One session's parts and its life from connect to cleanup."""

    kind = "session"
    single_use = "a Session is single use: create a new one with client.session()"
    connector: Connector
    hub: MediaHub
    life: Lifecycle

    def __init__(
        self,
        client: Any,
        new_args: dict[str, Any],
        options: Options,
        *,
        ice_servers: Sequence[IceServer | dict[str, Any]] | None,
        ice_gather_timeout: float | None,
    ) -> None:
        super().__init__(SHAPE, Lifecycle(self.sid), MediaHub(self._on_track_end), options)
        self.client = client
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

    def sid(self) -> str:
        """The session id, or a placeholder before ``streaming.new`` answered."""
        info = self.connector.info
        return info.session_id if info is not None else "(no id yet)"

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return self.connector.states

    # -- connect ---------------------------------------------------------------------

    def _ended_while_connecting(self) -> BaseException:
        life = self.life
        if life.end_reason is EndReason.CLOSED:
            return SessionClosed("the session was closed while connecting", reason="closed")
        return ConnectionFailed(
            life.end_message or "the session ended", states=self.connection_states
        )

    def _ended_at_connect(self) -> BaseException:
        return ConnectionFailed(self.life.end_message, states=self.connection_states)

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

    # -- death and cleanup -------------------------------------------------------------

    def _on_end(self, reason: EndReason, message: str, text: str) -> None:
        self.hub.emit(SessionEnded(reason=reason, abnormal=True, message=message))

    async def _release(self) -> None:
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
