"""Everything behind a `LiveAvatarSession`: its parts, how its connect fails, the ends (its
own and the service's), keep-alive and a cleanup that cannot fail. The connect under its
deadline, the watchdog and the shape of an end it did not ask for are the shared
``_sessions.core``'s.

The parts: `Lifecycle` (state and every wait), `Connector` (token, start, room, socket),
`MediaHub` (fan-outs, events, watchdog, recorders), `SpeechTracker` (``wait=True``).
Cleanup sends the stop at once, with the session token (known as soon as ``/token``
answered; a ``/token`` still in flight is waited for, bounded), sent again if cancelled
(`end_on_server`), while the room and the socket close; it runs to its end through
any number of cancellations (`finish`) and re-raises them afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import (
    APIError,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
    SessionError,
    SessionNotStopped,
)
from .._media.hub import cancel_task
from .._sessions import end_on_server, finish
from .._sessions.core import MediaSessionCore, Options
from .connect import Connector
from .events import Interrupted as InterruptedEvent
from .events import (
    LiveAvatarEvent,
    RawEvent,
    ServerError,
    SessionEnded,
    SpeakEnded,
    SpeakStarted,
    parse_full,
)
from .media import MediaHub
from .options import LiveAvatarMode
from .speech import SpeechTracker
from .state import SHAPE, Lifecycle, LiveAvatarState, published_reason
from .state import LiveAvatarEndReason as R

if TYPE_CHECKING:
    from .api import LiveAvatarAPI
    from .lite_sender import LiteSender

__all__ = ["SessionCore", "stop_command"]

logger = logging.getLogger("heygen_streaming")
S = LiveAvatarState
LOOKUP_TIMEOUT = 3.0
"""Bound of asking the service why a session ended (``GET /v1/sessions/{id}``)."""


def stop_command(session_id: str) -> str:
    """The shell command that stops a LiveAvatar session."""
    return f"heygen-streaming live sessions stop {session_id}"


class SessionCore(MediaSessionCore[LiveAvatarState, R]):
    """One session's parts and its life from connect to cleanup."""

    kind = "LiveAvatar session"
    single_use = "a LiveAvatarSession is single use: make a new one with client.session()"
    connector: Connector
    hub: MediaHub

    def __init__(
        self,
        api: LiveAvatarAPI,
        mode: LiveAvatarMode,
        options: Options,
        *,
        token_args: Mapping[str, Any] | None,
        session_token: str | None,
        can_look_up: bool,
        secrets: list[str],
        reapers: set[Any],
    ) -> None:
        super().__init__(SHAPE, Lifecycle(self.sid), MediaHub(), options)
        self.api = api
        self.mode = mode
        self.speech = SpeechTracker()
        self._secrets = secrets
        self.connector = Connector(
            api,
            mode,
            token_args=token_args,
            session_token=session_token,
            hub=self.hub,
            on_full_data=self._on_full_data,
            on_lite_event=self._on_lite_event,
            on_room_gone=self._on_room_gone,
            on_socket_lost=self._on_socket_lost,
            redact=self.redact,
            reapers=reapers,
        )
        self._can_look_up = can_look_up
        self._lookup: asyncio.Task[None] | None = None
        self.cleared: asyncio.Future[None] | None = None
        self.sender: LiteSender | None = None

    def sid(self) -> str:
        """The session id, or a placeholder before the service gave one."""
        return self.connector.session_id or "(no id yet)"

    def redact(self, text: str) -> str:
        """``text`` without any credential this session knows."""
        known = [*self._secrets, self.connector.session_token]
        started = self.connector.started
        if started is not None:
            known += [started.livekit_client_token, started.livekit_agent_token, started.ws_url]
        for secret in known:
            if secret:
                text = text.replace(secret, "***")
        return text

    # -- connect -------------------------------------------------------------------------

    def _connect_started(self, deadline: float) -> None:
        self.connector.deadline = deadline

    def _ended_while_connecting(self) -> BaseException:
        life = self.life
        return SessionClosed(
            f"the session ended while connecting ({life.end_reason}): {life.end_message}",
            reason=str(life.end_reason),
        )

    def _ended_at_connect(self) -> BaseException:
        return SessionClosed(self.life.end_message or "the session ended", reason="ended")

    def _connect_error(self, exc: BaseException, expired: bool) -> BaseException:
        if isinstance(exc, TimeoutError) and expired:
            limit = self.options.connect_timeout
            step = "no video" if self.connector.started is not None else "no session started"
            message = f"{step} within connect_timeout={limit:g} s"
            self.die(R.CONNECT_TIMEOUT, message)
            return ConnectTimeout(message)
        if isinstance(exc, asyncio.CancelledError):
            self.die(R.CANCELLED, "the connect was cancelled")
            return exc
        if isinstance(exc, SessionClosed):
            return exc
        self.die(R.CONNECT_FAILED, f"connect failed: {type(exc).__name__}")
        if isinstance(exc, HeyGenError):
            return exc
        return SessionError(f"connect failed: {type(exc).__name__}: {self.redact(str(exc))}")

    # -- what the room and the socket report ---------------------------------------------

    def _on_full_data(self, payload: bytes) -> None:
        event = parse_full(payload)
        if event.type == "session.stopped":
            data = event.data
            self._service_ended(data.get("stop_reason") or data.get("end_reason"))
            return
        self._track_speech(event)
        self.hub.emit(event)

    def _on_lite_event(self, event: LiveAvatarEvent) -> None:
        self._track_speech(event)
        if (
            isinstance(event, RawEvent) and event.type == "agent.audio_buffer_cleared"
        ) or isinstance(event, InterruptedEvent):
            self._cleared()
        elif isinstance(event, ServerError):
            level = logging.DEBUG if event.warning else logging.WARNING
            logger.log(level, "LiveAvatar %s: %s %s", event.type, event.code, event.message)
        self.hub.emit(event)

    def _cleared(self) -> None:
        if self.cleared is not None and not self.cleared.done():
            self.cleared.set_result(None)

    def _track_speech(self, event: LiveAvatarEvent) -> None:
        if isinstance(event, SpeakStarted):
            self.speech.started(event.speech_id)
        elif isinstance(event, SpeakEnded):
            self.speech.ended(event.speech_id)
        elif isinstance(event, InterruptedEvent):
            self.speech.ended(event.speech_id, "interrupted")

    def _on_room_gone(self, reason: str) -> None:
        self._look_up_end(f"the room closed ({reason})")

    def _on_socket_lost(self, by_service: bool) -> None:
        why = "the service closed the LITE socket" if by_service else "the LITE socket was lost"
        self._look_up_end(why)

    def _look_up_end(self, what: str) -> None:
        """The room or socket went away: ask the service why (with the API key), then end."""
        if self.life.ended or self._lookup is not None:
            return
        self._lookup = asyncio.ensure_future(self._ask_why(what))

    async def _ask_why(self, what: str) -> None:
        reason: str | None = None
        sid = self.connector.session_id
        if self._can_look_up and sid is not None:
            try:
                info = await self.api.get_session(sid, timeout=LOOKUP_TIMEOUT)
                reason = info.stop_reason if (info.status or "").lower() == "closed" else None
            except (HeyGenError, TimeoutError) as exc:
                logger.debug("looking up why session %s ended failed: %s", sid, exc)
        if reason is not None:
            self._service_ended(reason)
        else:
            self.die(R.REMOTE_CLOSED, what)

    def _service_ended(self, published: Any) -> None:
        reason = published_reason(published) or R.UNKNOWN
        shown = published if isinstance(published, str) else "no reason given"
        self.die(reason, f"the service ended the session ({str(shown)[:60]})")

    # -- ends and cleanup ----------------------------------------------------------------

    def _on_end(self, reason: R, message: str, text: str) -> None:
        self.speech.close(SessionClosed(text, reason=reason))
        self.hub.emit(SessionEnded(reason=reason, message=message, abnormal=True))

    async def _release(self) -> None:
        await cancel_task(self._keep_alive_task)
        room, socket = self.connector.room, self.connector.socket
        if socket is not None:
            await socket.close()
        if room is not None:
            await room.close()

    def _start_stop(self) -> asyncio.Task[SessionNotStopped | None]:
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop())
        return self._stop_task

    async def _stop(self) -> SessionNotStopped | None:
        """Stop the session on the service with its token (once ``/token`` answered)."""
        connector = self.connector
        budget = self.options.stop_timeout
        token = connector.session_token
        task = connector.token_task
        if token is None and task is not None:
            try:
                created = await asyncio.wait_for(asyncio.shield(task), budget)
            except (Exception, asyncio.CancelledError):
                task.cancel()  # no session was created, or it never will be started
                return None
            token, connector.session_id = created.session_token, created.session_id
            connector.session_token = token
        if token is None:
            return None
        sid = connector.session_id or "(unknown id)"

        async def stop(seconds: float) -> None:
            await self.api.stop_session(token=token, timeout=seconds)

        cause = await end_on_server(
            stop, budget, what=f"sessions.stop of {sid}", budget_name="stop_timeout"
        )
        if cause is None:
            return None
        error = SessionNotStopped(sid, cause, command=stop_command(sid), call="sessions.stop")
        logger.warning("%s", error)
        return error

    async def close(self) -> None:
        """Clean up once (later calls wait for the same cleanup); sets `stop_error`."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._cleanup())
        cancelled = await finish(self._close_task)
        if cancelled:
            raise asyncio.CancelledError

    async def _cleanup(self) -> None:
        ended = self.life.state is S.ENDED
        self.life.transition(S.CLOSING)
        stop = self._start_stop()
        self.hub.end()
        self.speech.close(SessionClosed("the session is closed", reason="closed"))
        release: list[Awaitable[Any]] = [self.hub.aclose(), cancel_task(self._lookup)]
        release.append(self._reaper if self._reaper is not None else self._release())
        # each wait runs to its end through cancellations (asyncio.run's second Ctrl-C
        # cancels this task too); they are re-raised once everything is done
        cancelled = await finish(asyncio.gather(*release, return_exceptions=True))
        cancelled |= await finish(stop)
        self.stop_error = stop.result() if not stop.cancelled() else None
        self.life.transition(S.CLOSED)
        if not ended:
            self.hub.emit(SessionEnded(reason=R.CLOSED))
        if cancelled:
            raise asyncio.CancelledError

    # -- keep-alive ----------------------------------------------------------------------

    async def keep_alive(self) -> None:
        """Reset the service's idle timer: on the LITE socket, else with the REST call."""
        socket = self.connector.socket
        if socket is not None:
            await socket.send({"type": "session.keep_alive", "event_id": _new_id()})
        else:
            await self.api.keep_alive(self.connector.session_token)

    async def _keep_alive_loop(self) -> None:
        interval = self.options.keep_alive_interval
        assert interval is not None
        while True:
            await asyncio.sleep(interval)
            try:
                await self.keep_alive()
            except (NotFoundError, APIError) as exc:
                if isinstance(exc, NotFoundError) or exc.status == 400:
                    self._look_up_end("keep-alive: the session is no longer active")
                    return
                logger.warning("background keep-alive failed: %s", exc)
            except (HeyGenError, ConnectionError) as exc:
                logger.warning("background keep-alive failed: %s", self.redact(str(exc)))

    # -- commands ------------------------------------------------------------------------

    async def send_lite(self, message: dict[str, Any]) -> None:
        """Send one message on the LITE socket."""
        socket = self.connector.socket
        if socket is None:
            raise SessionError("the session has no LITE socket")
        await socket.send(message)

    async def command(self, event_type: str, event_id: str, **fields: Any) -> None:
        """Send one command: FULL on ``agent-control``, LITE on the socket."""
        import json

        socket, room = self.connector.socket, self.connector.room
        if socket is not None:
            await socket.send({"type": event_type, "event_id": event_id, **fields})
            return
        assert room is not None
        message = {
            "event_type": event_type,
            "event_id": event_id,
            "session_id": self.connector.session_id,
            **fields,
        }
        await room.send_command(json.dumps(message).encode())


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex
