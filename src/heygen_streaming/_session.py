"""Session: one streaming avatar over WebRTC, from ``streaming.new`` to ``streaming.stop``.

The facade users hold. Its parts: `Lifecycle` (the state and every wait), `Connector`
(the connect steps), `MediaHub` (pumps, streams, events, watchdog, recorders),
`SpeechTracker` (``speak(wait=True)``) and `stop_on_server` (cleanup's stop).

A session is single use. After `Session.aclose` every command, a new stream and a second
``async with`` raise `SessionClosed` (``reason="closed"``); after an abnormal end they
raise it with the reason of that end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ._channel import read_message
from ._connect import Connector
from ._errors import (
    ConnectionFailed,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
    SessionError,
    SessionNotStopped,
)
from ._events import (
    ConnectionStateChanged,
    EventStream,
    SessionEnded,
    TalkingStarted,
    TalkingStopped,
)
from ._hub import MediaHub, cancel_task
from ._media import FrameStream
from ._models import IceServer, NewSessionInfo, TaskInfo, TaskMode, TaskType
from ._recording import Recorder, RecordingInfo
from ._speech import SpeechTracker
from ._state import EndReason, Lifecycle, SessionState
from ._stats import SessionStats, collect_stats
from ._stop import SessionRegistry, finish, stop_on_server

if TYPE_CHECKING:
    import av

    from ._client import StreamingClient

__all__ = ["Session"]

logger = logging.getLogger("heygen_streaming")
S = SessionState


class Session:
    """A streaming avatar session; use ``async with client.session(...) as s``.

    Args:
        client: the `StreamingClient` that makes the REST calls (and owns the session:
            its ``aclose()`` closes the session first).
        avatar, voice, quality: sent to ``streaming.new`` (other keyword arguments too).
        connect_timeout: seconds for the whole connect (``streaming.new`` to the first
            frame); on expiry `ConnectTimeout` is raised and the session is stopped.
        watchdog_timeout: seconds without any media, once connected, after which the
            session is considered dead (streams raise `SessionClosed`); None disables.
        keep_alive_interval: if set, ``streaming.keep_alive`` is sent every that many seconds.
        stop_timeout: bound on ``streaming.stop`` during cleanup.
        video_capacity / audio_capacity: default capacity of `video` / `audio`.
        ice_servers: override the server's STUN/TURN list (``[]``: host candidates only).
        ice_gather_timeout: bound on waiting for STUN/TURN candidates (aioice waits 5 s for
            an unreachable server); None keeps aioice's default.
    """

    def __init__(
        self,
        client: StreamingClient,
        avatar: str | None = None,
        voice: Any = None,
        quality: str | None = "high",
        *,
        connect_timeout: float = 15.0,
        watchdog_timeout: float | None = 5.0,
        keep_alive_interval: float | None = None,
        stop_timeout: float = 5.0,
        video_capacity: int = 10,
        audio_capacity: int = 50,
        ice_servers: Sequence[IceServer | dict[str, Any]] | None = None,
        ice_gather_timeout: float | None = None,
        **extra: Any,
    ) -> None:
        self._client = client
        self.connect_timeout = connect_timeout
        self.watchdog_timeout = watchdog_timeout
        self.keep_alive_interval = keep_alive_interval
        self.stop_timeout = stop_timeout
        self.video_capacity = video_capacity
        self.audio_capacity = audio_capacity
        self._life = Lifecycle(self._sid)
        self._hub = MediaHub(self._on_track_end)
        self._speech = SpeechTracker(self._life)
        self._connector = Connector(
            client,
            {"avatar": avatar, "voice": voice, "quality": quality, **extra},
            hub=self._hub,
            life=self._life,
            ice_override=ice_servers,
            gather_timeout=ice_gather_timeout,
            on_state=self._on_state,
            on_channel=self._on_channel,
        )
        registry = getattr(client, "_sessions", None)
        self._registry = registry if isinstance(registry, SessionRegistry) else SessionRegistry()
        self._registry.add(self)
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[SessionNotStopped | None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.stop_error: SessionNotStopped | None = None
        """Set when cleanup could not confirm ``streaming.stop`` (the session may be billed)."""

    def __repr__(self) -> str:
        return f"<Session id={self._sid()!r} state={self._life.state}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        life = getattr(self, "_life", None)
        if life is not None and life.state not in (S.NEW, S.CLOSED):
            _warn(
                f"unclosed Session {self._sid()} ({life.state}): use `async with "
                "client.session()` or `await session.aclose()`; it may still be open and "
                f"billed: stop it with `heygen-streaming sessions stop {self._sid()}`",
                ResourceWarning,
                source=self,
            )

    # -- properties ------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The service's session id (`SessionError` before ``streaming.new`` answered)."""
        return self.info.session_id

    @property
    def info(self) -> NewSessionInfo:
        """The ``streaming.new`` data (`SessionError` before it answered)."""
        if self._connector.info is None:
            raise SessionError("the session has no id yet: connect it first")
        return self._connector.info

    @property
    def state(self) -> SessionState:
        """The `SessionState` (compares equal to ``"new"``, ``"connected"``, ...)."""
        return self._life.state

    @property
    def end_reason(self) -> EndReason | None:
        """Why the session ended (`EndReason.CLOSED` for a normal close), None while alive."""
        return self._life.end_reason

    @property
    def closed_reason(self) -> str | None:
        """`end_reason` as a string (kept for compatibility)."""
        return self._life.end_reason

    @property
    def closed(self) -> bool:
        """True once cleanup started (or finished)."""
        return self._life.state in (S.CLOSING, S.CLOSED)

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return self._connector.states

    def _sid(self) -> str:
        info = self._connector.info
        return info.session_id if info is not None else "(no id yet)"

    # -- connect ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.aclose()
            return
        try:
            await self._close()
        finally:
            if self.stop_error is not None:
                exc.add_note(str(self.stop_error))

    async def connect(self) -> None:
        """Create the session and wait for its first frame (``__aenter__`` calls this)."""
        if not self._life.transition(S.CONNECTING):
            raise SessionClosed(
                "a Session is single use: create a new one with client.session()",
                reason=self._life.end_reason or "reused",
            )
        deadline = asyncio.timeout(self.connect_timeout)
        try:
            async with deadline:
                await self._connector.run()
        except BaseException as exc:
            error = self._connect_error(exc, deadline.expired())
            await self._close()
            if self.stop_error is not None:
                error.add_note(str(self.stop_error))
            if error is exc:
                raise
            raise error from (None if isinstance(error, ConnectTimeout) else exc)
        if not self._life.transition(S.CONNECTED):  # ended just as the first frame came
            raise ConnectionFailed(self._life.end_message, states=self.connection_states)
        if self.watchdog_timeout is not None:
            self._hub.start_watchdog(self.watchdog_timeout, self._on_stall)
        if self.keep_alive_interval is not None:
            self._keep_alive_task = asyncio.ensure_future(self._keep_alive_loop())

    def _connect_error(self, exc: BaseException, expired: bool) -> BaseException:
        """Record why the connect failed; the exception to raise."""
        if isinstance(exc, TimeoutError) and expired:
            states = " -> ".join(self.connection_states) or "none"
            limit = f"connect_timeout={self.connect_timeout:g} s"
            message = f"no media within {limit} (states: {states})"
            self._die(EndReason.CONNECT_TIMEOUT, message)
            return ConnectTimeout(message)
        if isinstance(exc, asyncio.CancelledError):
            self._die(EndReason.CANCELLED, "the connect was cancelled")
            return exc
        self._die(EndReason.CONNECT_FAILED, f"connect failed: {type(exc).__name__}")
        if isinstance(exc, HeyGenError):
            return exc
        return ConnectionFailed(
            f"connect failed: {type(exc).__name__}: {exc}", states=self.connection_states
        )

    # -- peer callbacks ----------------------------------------------------------------

    def _on_track_end(self, kind: str, error: BaseException | None) -> None:
        detail = f": {type(error).__name__}" if error else ""
        self._die(EndReason.REMOTE_CLOSED, f"the {kind} track ended{detail}")

    def _on_state(self, state: str, previous: str | None) -> None:
        self._hub.emit(ConnectionStateChanged(state=state, previous=previous))
        if state in ("failed", "closed"):
            reason = EndReason.CONNECTION_FAILED if state == "failed" else EndReason.REMOTE_CLOSED
            states = " -> ".join(self.connection_states)
            self._die(reason, f"peer connection {state} (states: {states})")

    def _on_channel(self, channel: Any) -> None:
        @channel.on("message")  # type: ignore[untyped-decorator]
        def _message(message: Any) -> None:
            event = read_message(message)
            if isinstance(event, TalkingStarted):
                self._speech.talking_started(event.task_id)
            elif isinstance(event, TalkingStopped):
                self._speech.talking_stopped(event.task_id)
            if event is not None:
                self._hub.emit(event)

    def _on_stall(self, idle: float) -> None:
        message = f"no media for {idle:.1f} s (watchdog_timeout={self.watchdog_timeout})"
        self._die(EndReason.WATCHDOG, message)

    # -- death and cleanup -------------------------------------------------------------

    def _die(self, reason: EndReason, message: str) -> None:
        """Abnormal end: streams raise `SessionClosed`, the stop is sent, media released."""
        was_connected = self._life.state is S.CONNECTED
        if not self._life.transition(S.FAILED, reason, message):
            return
        logger.warning("session %s ended: %s", self._sid(), message)
        self._hub.end(reason=reason, message=f"session ended ({reason}): {message}")
        self._hub.emit(SessionEnded(reason=reason, abnormal=True, message=message))
        if was_connected:
            self._start_stop()
            self._reaper = asyncio.ensure_future(self._release_media())

    async def _release_media(self) -> None:
        """Stop background work and close the peer (threads, sockets)."""
        await self._hub.stop_watchdog()
        await cancel_task(self._keep_alive_task)
        if self._connector.peer is not None:
            await self._connector.peer.close()

    def _start_stop(self) -> asyncio.Task[SessionNotStopped | None] | None:
        """Send ``streaming.stop`` now (once), if the session has an id."""
        info = self._connector.info
        if self._stop_task is None and info is not None:
            self._stop_task = asyncio.ensure_future(
                stop_on_server(self._client, info.session_id, self.stop_timeout)
            )
        return self._stop_task

    async def aclose(self) -> None:
        """Stop the session and release everything; idempotent.

        Sends ``streaming.stop`` at once (shielded; sent again if cancelled, bounded by
        ``stop_timeout``), concurrently with closing the peer connection (bounded); ends
        every stream. Raises `SessionNotStopped` if the stop could not be confirmed.
        """
        await self._close()
        if self.stop_error is not None:
            raise self.stop_error

    async def aclose_quietly(self) -> None:
        """`aclose` that only logs a failed stop (for the client's own cleanup)."""
        await self._close()

    async def stop(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    async def _close(self) -> None:
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._cleanup())
        await asyncio.shield(self._close_task)

    async def _cleanup(self) -> None:
        failed = self._life.state is S.FAILED
        self._life.transition(S.CLOSING)
        stop = self._start_stop()
        new_task = self._connector.new_task
        if stop is None and new_task is not None and not new_task.done():
            self._registry.spawn(lambda: self._stop_late(new_task))
        self._hub.end()
        peer = self._connector.peer
        release: list[Awaitable[Any]] = [self._hub.aclose(), cancel_task(self._keep_alive_task)]
        if self._reaper is not None:
            release.append(self._reaper)
        if peer is not None:
            release.append(peer.close())
        cancelled = await finish(asyncio.gather(*release, return_exceptions=True))
        if stop is not None:
            cancelled |= await finish(stop)
            self.stop_error = stop.result() if not stop.cancelled() else None
        self._life.transition(S.CLOSED)
        if not failed:
            self._hub.emit(SessionEnded(reason=EndReason.CLOSED))
        if cancelled:
            raise asyncio.CancelledError

    async def _stop_late(self, new_task: asyncio.Task[NewSessionInfo]) -> None:
        """The connect gave up while ``streaming.new`` was in flight: stop what it created."""
        try:
            info = await new_task
        except BaseException:
            return
        sid = info.session_id
        logger.info("session %s was created after its connect gave up: stopping it", sid)
        await stop_on_server(self._client, info.session_id, self.stop_timeout)

    def _check_usable(self) -> None:
        state = self._life.state
        if state is S.CONNECTED:
            return
        if state in (S.FAILED, S.CLOSING, S.CLOSED):
            reason = self._life.end_reason or EndReason.CLOSED
            if reason is EndReason.CLOSED:
                raise SessionClosed("the session is closed", reason=reason)
            message = f"session ended ({reason}): {self._life.end_message}"
            raise SessionClosed(message, reason=reason)
        raise SessionError("the session is not connected: use `async with client.session()`")

    # -- commands ----------------------------------------------------------------------

    async def wait_connected(self) -> None:
        """Return once connected (at once if already); raise `SessionClosed` if it ended."""
        await self._life.wait_for(lambda: self._life.state not in (S.NEW, S.CONNECTING))
        self._check_usable()

    async def speak(
        self,
        text: str,
        *,
        task_type: TaskType | str = "repeat",
        task_mode: TaskMode | str = "sync",
        wait: bool = False,
    ) -> TaskInfo:
        """Send ``streaming.task``; with ``wait=True`` return once the avatar finished.

        The end is taken from the server's talking events when it sends them, else from
        ``duration_ms`` (queued after earlier speech); `interrupt` ends the wait early.
        The wait is cancellable; it raises `SessionClosed` if the session ends.
        """
        self._check_usable()
        mark = self._speech.mark()
        task = await self._client.send_task(self.session_id, text, task_type, task_mode)
        self._speech.queued(task)
        if wait:
            await self._speech.wait_done(task, mark)
        return task

    async def interrupt(self) -> None:
        """``streaming.interrupt``: cut the current speech (and end ``speak(wait=True)``)."""
        self._check_usable()
        await self._client.interrupt(self.session_id)
        self._speech.interrupted()

    async def keep_alive(self) -> None:
        """``streaming.keep_alive``: reset the server's idle timer."""
        self._check_usable()
        await self._client.keep_alive(self.session_id)

    async def _keep_alive_loop(self) -> None:
        assert self.keep_alive_interval is not None
        while True:
            await asyncio.sleep(self.keep_alive_interval)
            try:
                await self._client.keep_alive(self.session_id)
            except NotFoundError:
                self._die(EndReason.REMOTE_CLOSED, "streaming.keep_alive: the session is gone")
                return
            except HeyGenError as exc:
                logger.warning("background keep_alive failed: %s", exc)

    # -- media -------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        if self.closed:
            raise SessionClosed("the session is closed", reason=self._life.end_reason or "closed")

    def video(self, capacity: int | None = None) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of the avatar's video frames (drop-oldest).

        It starts with the most recent frame (the picture currently shown), so a reader
        subscribing after connect does not wait a frame interval; then every later frame.
        """
        self._check_streamable()
        return self._hub.video(capacity or self.video_capacity)

    def audio(
        self,
        capacity: int | None = None,
        *,
        sample_rate: int | None = None,
        layout: str | None = None,
        format: str | None = None,
    ) -> FrameStream[av.AudioFrame]:
        """A new bounded stream of audio frames (48 kHz stereo s16 as decoded by aiortc).

        ``sample_rate`` / ``layout`` / ``format`` (e.g. ``16000, "mono", "s16"``) resample
        with `av.AudioResampler`, on the reader's side.
        """
        self._check_streamable()
        return self._hub.audio(capacity or self.audio_capacity, sample_rate, layout, format)

    def events(self, capacity: int = 256) -> EventStream:
        """A new stream of `SessionEvent`: the events so far, then live ones.

        It ends after `SessionEnded` (always the last event).
        """
        self._check_streamable()
        return self._hub.event_stream(capacity)

    # -- recording and stats -----------------------------------------------------------

    def _recorder(self, path: str | os.PathLike[str]) -> Recorder:
        self._check_usable()
        return self._hub.recorder(path)

    async def record(self, path: str | os.PathLike[str], duration: float) -> RecordingInfo:
        """Record ``duration`` seconds to ``path`` (.mp4/.mkv/.mov: H.264+AAC, .webm: VP8+Opus).

        If the session ends abnormally meanwhile, the file is finished with what was
        recorded and `SessionClosed` is raised.
        """
        recorder = self._recorder(path)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await self._life.wait_for(lambda: self._life.ended)
        finally:
            self._hub.forget(recorder)
            info = await recorder.stop()
        if self._life.end_reason not in (None, EndReason.CLOSED):
            message = self._life.end_message
            reason = self._life.end_reason or "closed"
            raise SessionClosed(f"session ended during recording: {message}", reason=reason)
        return info

    @contextlib.asynccontextmanager
    async def recording(self, path: str | os.PathLike[str]) -> AsyncIterator[Recorder]:
        """``async with s.recording("out.mp4") as rec: ...``; ``rec.info`` after the block."""
        recorder = self._recorder(path)
        try:
            yield recorder
        finally:
            self._hub.forget(recorder)
            await recorder.stop()

    async def stats(self) -> SessionStats:
        """A snapshot of inbound RTP statistics per kind, plus the SDK's frame counters."""
        return await collect_stats(self._connector.peer, self._hub.fanouts, self._hub.started_at)
