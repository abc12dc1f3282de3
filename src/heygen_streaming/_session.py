"""Session: one streaming avatar over WebRTC, from ``streaming.new`` to ``streaming.stop``.

Lifecycle::

    new --connect()--> connecting --first frame--> connected --aclose()--> closing -> closed
                           |                          |
                           +-- timeout / failure --+  +-- watchdog / ICE failure / server gone
                                                   v                      v
                                        (stopped, closed, raised)       failed --aclose()--> closed

A session is single use. After `Session.aclose` every command, a new stream and a
second ``async with`` raise `heygen_streaming.SessionClosed` (``reason="closed"``);
after an abnormal end they raise it with the reason of that end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ._errors import (
    ConnectionFailed,
    ConnectTimeout,
    HeyGenError,
    NotFoundError,
    SessionClosed,
    SessionError,
    UnsupportedSessionError,
)
from ._events import (
    ConnectionStateChanged,
    EventHub,
    EventStream,
    MediaStarted,
    SessionEnded,
    TalkingStarted,
    TalkingStopped,
    parse_server_message,
)
from ._media import FrameFanout, FrameStream, audio_resampler, pump_track
from ._models import IceServer, NewSessionInfo, TaskInfo, TaskMode, TaskType
from ._options import TaskModeName, TaskTypeName
from ._recording import Recorder, RecordingInfo
from ._rtc import Peer, Watchdog, ice_servers_for, local_candidates, post_candidates
from ._speech import SpeechTracker
from ._stats import SessionStats, collect_stats

if TYPE_CHECKING:
    import av

    from ._client import StreamingClient

__all__ = ["Session"]

logger = logging.getLogger("heygen_streaming")


class Session:
    """A streaming avatar session; use ``async with client.session(...) as s``.

    Args:
        client: the `StreamingClient` that makes the REST calls.
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
        self._new_args: dict[str, Any] = {
            "avatar": avatar,
            "voice": voice,
            "quality": quality,
            **extra,
        }
        self.connect_timeout = connect_timeout
        self.watchdog_timeout = watchdog_timeout
        self.keep_alive_interval = keep_alive_interval
        self.stop_timeout = stop_timeout
        self.video_capacity = video_capacity
        self.audio_capacity = audio_capacity
        self._ice_override = ice_servers
        self.ice_gather_timeout = ice_gather_timeout
        self._state = "new"
        self._info: NewSessionInfo | None = None
        self._new_task: asyncio.Task[NewSessionInfo] | None = None
        self._peer: Peer | None = None
        self._events = EventHub()
        self._fanouts = {
            "video": FrameFanout("video", self._on_first_frame, replay_latest=True),
            "audio": FrameFanout("audio", self._on_first_frame),
        }
        self._pumps: list[asyncio.Task[None]] = []
        self._channels: list[Any] = []
        self._watchdog: Watchdog | None = None
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._recorders: set[Recorder] = set()
        self._speech = SpeechTracker()
        self._progress = asyncio.Event()
        self._ended = asyncio.Event()
        self._failure: tuple[str, str] | None = None
        self._started_at = 0.0
        self._entered = False

    def __repr__(self) -> str:
        sid = self._info.session_id if self._info else None
        return f"<Session id={sid!r} state={self._state}>"

    # -- properties ------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The service's session id (``SessionError`` before ``streaming.new`` answered)."""
        if self._info is None:
            raise SessionError("the session has no id yet: connect it first")
        return self._info.session_id

    @property
    def info(self) -> NewSessionInfo:
        """The ``streaming.new`` data (``SessionError`` before it answered)."""
        if self._info is None:
            raise SessionError("the session has no info yet: connect it first")
        return self._info

    @property
    def state(self) -> str:
        """``new``, ``connecting``, ``connected``, ``failed``, ``closing`` or ``closed``."""
        return self._state

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return list(self._peer.states) if self._peer else []

    @property
    def closed_reason(self) -> str | None:
        """Why the session ended (``"closed"`` for a normal close), or None while alive."""
        final = self._events.final
        return final.reason if final else None

    # -- connect ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Create the session and wait for its first frame (``__aenter__`` calls this)."""
        if self._entered or self._close_task is not None:
            raise SessionClosed(
                "a Session is single use: create a new one with client.session()",
                reason=self.closed_reason or "reused",
            )
        self._entered = True
        self._state = "connecting"
        self._started_at = time.monotonic()
        deadline = asyncio.timeout(self.connect_timeout)
        try:
            async with deadline:
                await self._connect_steps()
        except BaseException as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                message = (
                    f"no media within connect_timeout={self.connect_timeout:g} s "
                    f"(states: {' -> '.join(self.connection_states) or 'none'})"
                )
                self._die("connect-timeout", message)
                await self.aclose()
                raise ConnectTimeout(message) from None
            reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else "connect-failed"
            self._die(reason, f"connect failed: {type(exc).__name__}")
            await self.aclose()
            if isinstance(exc, HeyGenError | asyncio.CancelledError):
                raise
            raise ConnectionFailed(
                f"connect failed: {type(exc).__name__}: {exc}", states=self.connection_states
            ) from exc
        self._state = "connected"
        logger.info(
            "session %s connected in %.3f s",
            self.session_id,
            time.monotonic() - self._started_at,
        )
        if self.watchdog_timeout is not None:
            self._watchdog = Watchdog(self.watchdog_timeout, self._last_media, self._on_stall)
            self._watchdog.start()
        if self.keep_alive_interval is not None:
            self._keep_alive_task = asyncio.ensure_future(self._keep_alive_loop())

    async def _connect_steps(self) -> None:
        self._new_task = asyncio.ensure_future(self._client.new_session(**self._new_args))
        info = await asyncio.shield(self._new_task)
        self._info = info
        if info.sdp is None or not info.sdp.sdp:
            raise UnsupportedSessionError(
                "the service returned a session without an SDP offer (a v2/LiveKit session); "
                "this SDK drives WebRTC v1 sessions only"
            )
        peer = Peer(
            ice_servers_for(info, self._ice_override),
            gather_timeout=self.ice_gather_timeout,
            on_track=self._on_track,
            on_state=self._on_state,
            on_channel=self._on_channel,
        )
        self._peer = peer
        answer = await peer.answer(info.sdp)
        candidates = local_candidates(answer)
        # streaming.start and streaming.ice in parallel; the first error wins, as raised.
        calls = [
            asyncio.ensure_future(self._client.start_session(info.session_id, answer)),
            asyncio.ensure_future(post_candidates(self._client, info.session_id, candidates)),
        ]
        try:
            await asyncio.gather(*calls)
        finally:
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        wanted = "video" if "m=video" in info.sdp.sdp else "audio"
        while not self._fanouts[wanted].first_frame.is_set():
            if self._failure is not None:
                _, message = self._failure
                raise ConnectionFailed(message, states=peer.states)
            self._progress.clear()
            await self._progress.wait()

    # -- peer callbacks --------------------------------------------------------------------

    def _on_track(self, track: Any) -> None:
        fanout = self._fanouts.get(track.kind)
        if fanout is None:
            return
        self._pumps.append(asyncio.ensure_future(pump_track(track, fanout, self._on_track_end)))

    def _on_first_frame(self, kind: str) -> None:
        self._events.emit(MediaStarted(kind=kind, elapsed=time.monotonic() - self._started_at))
        self._progress.set()

    def _on_track_end(self, kind: str, error: BaseException | None) -> None:
        if self._state in ("closing", "closed"):
            return
        detail = f": {type(error).__name__}" if error else ""
        self._die("remote-closed", f"the {kind} track ended{detail}")

    def _on_state(self, state: str, previous: str | None) -> None:
        self._events.emit(ConnectionStateChanged(state=state, previous=previous))
        if state in ("failed", "closed") and self._state in ("connecting", "connected"):
            states = " -> ".join(self.connection_states)
            reason = "connection-failed" if state == "failed" else "remote-closed"
            self._die(reason, f"peer connection {state} (states: {states})")

    def _on_channel(self, channel: Any) -> None:
        self._channels.append(channel)

        @channel.on("message")  # type: ignore[untyped-decorator]
        def _message(message: Any) -> None:
            self._on_message(message)

    def _on_message(self, message: Any) -> None:
        event = parse_server_message(message)
        if isinstance(event, TalkingStarted):
            self._speech.talking_started(event.task_id)
        elif isinstance(event, TalkingStopped):
            self._speech.talking_stopped(event.task_id)
        self._events.emit(event)

    # -- death and cleanup -----------------------------------------------------------------

    def _last_media(self) -> float | None:
        times = [f.last_frame_at for f in self._fanouts.values() if f.last_frame_at is not None]
        return max(times) if times else None

    def _on_stall(self, idle: float) -> None:
        self._die(
            "watchdog", f"no media for {idle:.1f} s (watchdog_timeout={self.watchdog_timeout})"
        )

    def _die(self, reason: str, message: str) -> None:
        """Abnormal end: wake everyone, end streams with SessionClosed, release the peer."""
        if self._failure is not None or self._state in ("closing", "closed"):
            return
        was_connected = self._state == "connected"
        self._failure = (reason, message)
        self._state = "failed"
        logger.warning("session %s ended: %s", self._sid(), message)
        for fanout in self._fanouts.values():
            fanout.end(reason=reason, message=f"session ended ({reason}): {message}")
        self._speech.fail(reason, message)
        self._events.emit(SessionEnded(reason=reason, abnormal=True, message=message))
        self._ended.set()
        self._progress.set()
        if was_connected:
            self._reaper = asyncio.ensure_future(self._release_media())

    async def _release_media(self) -> None:
        """Stop background work and close the peer (threads, sockets) after a failure."""
        if self._watchdog is not None:
            await self._watchdog.stop()
        await _cancel(self._keep_alive_task)
        if self._peer is not None:
            await self._peer.close()

    def _sid(self) -> str:
        return self._info.session_id if self._info else "(none)"

    async def aclose(self) -> None:
        """Stop the session and release everything; idempotent, never masks an exception.

        Calls ``streaming.stop`` (bounded by ``stop_timeout``; a failure is logged) and
        closes the peer connection (bounded); ends every stream; waits for background tasks.
        """
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._cleanup())
        await asyncio.shield(self._close_task)

    async def stop(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    async def _cleanup(self) -> None:
        normal = self._failure is None
        self._state = "closing"
        self._ended.set()
        self._speech.fail("closed", "the session was closed")
        for fanout in self._fanouts.values():
            fanout.end()
        for recorder in list(self._recorders):
            with contextlib.suppress(Exception):
                await recorder.stop()
        if self._watchdog is not None:
            await self._watchdog.stop()
        await _cancel(self._keep_alive_task)
        if self._reaper is not None:
            await asyncio.gather(self._reaper, return_exceptions=True)
        info = self._info
        if info is None and self._new_task is not None:
            # streaming.new was in flight when connect gave up: wait for it, then stop it.
            try:
                info = await asyncio.wait_for(asyncio.shield(self._new_task), self.stop_timeout)
            except BaseException:
                self._new_task.cancel()
                info = None
        tasks = [self._stop_on_server(info.session_id)] if info is not None else []
        if self._peer is not None:
            tasks.append(self._peer.close())
        await asyncio.gather(*tasks)
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._state = "closed"
        if normal:
            self._events.emit(SessionEnded(reason="closed"))
        logger.info("session %s closed", self._sid())

    async def _stop_on_server(self, session_id: str) -> None:
        try:
            await asyncio.wait_for(
                self._client.stop_session(session_id, timeout=self.stop_timeout),
                self.stop_timeout + 1.0,
            )
        except NotFoundError:
            logger.debug("streaming.stop: session %s was already gone", session_id)
        except Exception as exc:
            logger.warning(
                "streaming.stop failed for session %s: %s: %s",
                session_id,
                type(exc).__name__,
                exc,
            )

    def _check_usable(self) -> None:
        if self._state in ("closing", "closed"):
            raise SessionClosed("the session is closed", reason=self.closed_reason or "closed")
        if self._failure is not None:
            reason, message = self._failure
            raise SessionClosed(f"session ended ({reason}): {message}", reason=reason)
        if self._state != "connected":
            raise SessionError("the session is not connected: use `async with client.session()`")

    # -- commands --------------------------------------------------------------------------

    async def wait_connected(self) -> None:
        """Return once connected (at once if already); raise SessionClosed if it ended."""
        while self._state in ("new", "connecting"):
            self._progress.clear()
            await self._progress.wait()
        self._check_usable()

    async def speak(
        self,
        text: str,
        *,
        task_type: TaskType | TaskTypeName = "repeat",
        task_mode: TaskMode | TaskModeName = "sync",
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
                self._die("remote-closed", "streaming.keep_alive: the session is gone")
                return
            except HeyGenError as exc:
                logger.warning("background keep_alive failed: %s", exc)

    # -- media -----------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        if self._state in ("closing", "closed"):
            raise SessionClosed("the session is closed", reason=self.closed_reason or "closed")

    def video(
        self, capacity: int | None = None, *, max_bytes: int | None = None
    ) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of the avatar's video frames (drop-oldest).

        It starts with the most recent frame (the picture currently shown), so a reader
        subscribing after connect does not wait a frame interval; then every later frame.
        ``max_bytes`` bounds the decoded bytes queued (default 32 MiB).
        """
        self._check_streamable()
        return self._fanouts["video"].subscribe(
            self.video_capacity if capacity is None else capacity, max_bytes=max_bytes
        )

    def audio(
        self,
        capacity: int | None = None,
        *,
        sample_rate: int | None = None,
        layout: str | None = None,
        format: str | None = None,
        max_bytes: int | None = None,
    ) -> FrameStream[av.AudioFrame]:
        """A new bounded stream of audio frames (48 kHz stereo s16 as decoded by aiortc).

        ``sample_rate`` / ``layout`` / ``format`` (e.g. ``16000, "mono", "s16"``) resample
        with `av.AudioResampler`, on the reader's side. ``max_bytes`` bounds the decoded
        bytes queued (default 1 MiB).
        """
        self._check_streamable()
        transform = audio_resampler(sample_rate, layout, format)
        return self._fanouts["audio"].subscribe(
            self.audio_capacity if capacity is None else capacity, transform, max_bytes=max_bytes
        )

    def events(self, capacity: int = 256) -> EventStream:
        """A new stream of `SessionEvent`: the events so far, then live ones.

        It ends after `SessionEnded` (always the last event).
        """
        self._check_streamable()
        return self._events.subscribe(capacity)

    # -- recording and stats -----------------------------------------------------------------

    def _recorder(self, path: str | os.PathLike[str]) -> Recorder:
        self._check_usable()
        recorder = Recorder(path, self._fanouts["video"], self._fanouts["audio"])
        recorder.start()
        self._recorders.add(recorder)
        return recorder

    async def record(self, path: str | os.PathLike[str], duration: float) -> RecordingInfo:
        """Record ``duration`` seconds to ``path`` (.mp4/.mkv/.mov: H.264+AAC, .webm: VP8+Opus).

        If the session ends abnormally meanwhile, the file is finished with what was
        recorded and `SessionClosed` is raised.
        """
        recorder = self._recorder(path)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await self._ended.wait()
        finally:
            self._recorders.discard(recorder)
            info = await recorder.stop()
        if self._failure is not None:
            reason, message = self._failure
            raise SessionClosed(f"session ended during recording: {message}", reason=reason)
        return info

    @contextlib.asynccontextmanager
    async def recording(self, path: str | os.PathLike[str]) -> AsyncIterator[Recorder]:
        """``async with s.recording("out.mp4") as rec: ...``; ``rec.info`` after the block."""
        recorder = self._recorder(path)
        try:
            yield recorder
        finally:
            self._recorders.discard(recorder)
            await recorder.stop()

    async def stats(self) -> SessionStats:
        """A snapshot of inbound RTP statistics per kind, plus the SDK's frame counters."""
        return await collect_stats(self._peer, self._fanouts, self._started_at)


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done() or task is asyncio.current_task():
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
