"""Session: one streaming avatar over WebRTC, from ``streaming.new`` to ``streaming.stop``.

The public facade; the parts behind it live in `SessionCore`. A session is single use.
After `Session.aclose` every command, a new stream and a second ``async with`` raise
`SessionClosed` (``reason="closed"``); after an abnormal end they raise it with the
reason of that end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._errors import SessionClosed, SessionError, SessionNotStopped
from .._media.streams import FrameStream, audio_resampler
from .core import SessionCore
from .enums import TaskModeName, TaskTypeName
from .events import EventStream
from .state import EndReason, SessionState

if TYPE_CHECKING:
    import av

    from .._client import StreamingClient
    from .._media.recording import Recorder, RecordingInfo
    from .created import CreatedSession
    from .enums import TaskMode, TaskType
    from .models import IceServer, NewSessionInfo, TaskInfo
    from .stats import SessionStats

__all__ = ["Session"]

S = SessionState


class Session:
    """A streaming avatar session; use ``async with client.session(...) as s``.

    Args:
        client: the `StreamingClient` that makes the REST calls (a session made by
            ``client.session()`` belongs to it: its ``aclose()`` closes the session first).
        avatar: avatar name or id, sent to ``streaming.new``; the service's default if omitted.
        voice: voice id or `VoiceSettings`; the avatar's voice if omitted.
        quality: ``"high"``, ``"medium"`` or ``"low"``.
        connect_timeout: seconds for the whole connect (``streaming.new`` to the first
            frame); on expiry `ConnectTimeout` is raised and the session is stopped.
        watchdog_timeout: seconds without any media, once connected, after which the
            session is considered dead (streams raise `SessionClosed`); None disables.
        keep_alive_interval: if set, ``streaming.keep_alive`` is sent every that many seconds.
        stop_timeout: bound on ``streaming.stop`` during cleanup.
        video_capacity: default capacity of `video`.
        audio_capacity: default capacity of `audio`.
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
        self._core = SessionCore(
            client,
            {"avatar": avatar, "voice": voice, "quality": quality, **extra},
            self,
            ice_servers=ice_servers,
            ice_gather_timeout=ice_gather_timeout,
        )

    def __repr__(self) -> str:
        return f"<Session id={self._core.sid()!r} state={self._core.life.state}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        core = getattr(self, "_core", None)
        if core is not None and core.life.state not in (S.NEW, S.CLOSED):
            sid = core.sid()
            _warn(
                f"unclosed Session {sid} ({core.life.state}): use `async with "
                "client.session()` or `await session.aclose()`; it may still be open and "
                f"billed: stop it with `heygen-streaming sessions stop {sid}`",
                ResourceWarning,
                source=self,
            )

    # -- properties ------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The service's session id (`SessionError` before ``streaming.new`` answered)."""
        return self._created().session_id

    @property
    def info(self) -> NewSessionInfo:
        """The ``streaming.new`` data (`SessionError` before it answered)."""
        return self._created().model()

    def _creation_unknown(self) -> bool:
        """True when ``streaming.new`` was sent and its answer never read (see `Connector`)."""
        return self._core.connector.creation_unknown()

    def _created(self) -> CreatedSession:
        if self._core.connector.info is None:
            raise SessionError("the session has no id yet: connect it first")
        return self._core.connector.info

    @property
    def state(self) -> SessionState:
        """The `SessionState` (compares equal to ``"new"``, ``"connected"``, ...)."""
        return self._core.life.state

    @property
    def end_reason(self) -> EndReason | None:
        """Why the session ended (`EndReason.CLOSED` for a normal close), None while alive."""
        return self._core.life.end_reason

    @property
    def closed_reason(self) -> str | None:
        """`end_reason` as a string (kept for compatibility)."""
        return self._core.life.end_reason

    @property
    def stop_error(self) -> SessionNotStopped | None:
        """Set when cleanup could not confirm ``streaming.stop`` (the session may be billed)."""
        return self._core.stop_error

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return self._core.connection_states

    # -- connect and close -------------------------------------------------------------

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
            await self._core.close()
        finally:
            if self.stop_error is not None:
                exc.add_note(str(self.stop_error))

    async def connect(self) -> None:
        """Create the session and wait for its first frame (``__aenter__`` calls this)."""
        await self._core.connect()

    async def aclose(self) -> None:
        """Stop the session and release everything; idempotent.

        Sends ``streaming.stop`` at once (shielded; sent again if cancelled, bounded by
        ``stop_timeout``), concurrently with closing the peer connection (bounded); ends
        every stream. Raises `SessionNotStopped` if the stop could not be confirmed.
        """
        await self._core.close()
        if self.stop_error is not None:
            raise self.stop_error

    # `TrackedSession`: how the client's registry closes it.

    @property
    def close_bound(self) -> float:
        """Seconds its close may take (``stop_timeout``; the peer closes meanwhile)."""
        return self.stop_timeout

    @property
    def needs_close(self) -> bool:
        """True once connecting, until closed and any late ``streaming.stop`` has ended."""
        late = self._core.late_stop
        return self._core.life.state not in (S.NEW, S.CLOSED) or (
            late is not None and not late.done()
        )

    async def aclose_quietly(self) -> None:
        """`aclose` that only logs a failed stop, then waits for a late ``streaming.stop``
        (of a session created after its connect gave up); the client's cleanup uses it."""
        await self._core.close()
        if self._core.late_stop is not None:
            await asyncio.shield(self._core.late_stop)

    async def stop(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    # -- commands ----------------------------------------------------------------------

    async def wait_connected(self) -> None:
        """Return once connected (at once if already); raise `SessionClosed` if it ended."""
        life = self._core.life
        await life.wait_for(lambda: life.state not in (S.NEW, S.CONNECTING))
        self._core.check_usable()

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
        self._core.check_usable()
        mark = self._core.speech.mark()
        task = await self._client.send_task(self.session_id, text, task_type, task_mode)
        self._core.speech.queued(task)
        if wait:
            await self._core.speech.wait_done(task, mark)
        return task

    async def interrupt(self) -> None:
        """``streaming.interrupt``: cut the current speech (and end ``speak(wait=True)``)."""
        self._core.check_usable()
        await self._client.interrupt(self.session_id)
        self._core.speech.interrupted()

    async def keep_alive(self) -> None:
        """``streaming.keep_alive``: reset the server's idle timer."""
        self._core.check_usable()
        await self._client.keep_alive(self.session_id)

    # -- media -------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        life = self._core.life
        if life.state in (S.CLOSING, S.CLOSED):
            raise SessionClosed("the session is closed", reason=life.end_reason or "closed")

    def video(
        self, capacity: int | None = None, *, max_bytes: int | None = None
    ) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of the avatar's video frames (drop-oldest).

        It starts with the most recent frame (the picture currently shown), so a reader
        subscribing after connect does not wait a frame interval; then every later frame.
        ``max_bytes`` bounds the decoded bytes queued (default 32 MiB).
        """
        self._check_streamable()
        capacity = self.video_capacity if capacity is None else capacity
        return self._core.hub.video(capacity, max_bytes)

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
        capacity = self.audio_capacity if capacity is None else capacity
        transform = audio_resampler(sample_rate, layout, format)
        return self._core.hub.audio(capacity, transform, max_bytes)

    def events(self, capacity: int = 256) -> EventStream:
        """A new stream of `SessionEvent`: the events so far, then live ones.

        It ends after `SessionEnded` (always the last event).
        """
        self._check_streamable()
        return self._core.hub.event_stream(capacity)

    # -- recording and stats -----------------------------------------------------------

    def _recorder(self, path: str | os.PathLike[str]) -> Recorder:
        self._core.check_usable()
        return self._core.hub.recorder(path)

    async def record(self, path: str | os.PathLike[str], duration: float) -> RecordingInfo:
        """Record ``duration`` seconds to ``path`` (.mp4/.mkv/.mov: H.264+AAC, .webm: VP8+Opus).

        If the session ends abnormally meanwhile, the file is finished with what was
        recorded and `SessionClosed` is raised.
        """
        recorder = self._recorder(path)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await self._core.life.wait_for(lambda: self._core.life.ended)
        finally:
            self._core.hub.forget(recorder)
            info = await recorder.stop()
        if self._core.life.end_reason not in (None, EndReason.CLOSED):
            message = self._core.life.end_message
            reason = self._core.life.end_reason or "closed"
            raise SessionClosed(f"session ended during recording: {message}", reason=reason)
        return info

    @contextlib.asynccontextmanager
    async def recording(self, path: str | os.PathLike[str]) -> AsyncIterator[Recorder]:
        """``async with s.recording("out.mp4") as rec: ...``; ``rec.info`` after the block."""
        recorder = self._recorder(path)
        try:
            yield recorder
        finally:
            self._core.hub.forget(recorder)
            await recorder.stop()

    async def stats(self) -> SessionStats:
        """A snapshot of inbound RTP statistics per kind, plus the SDK's frame counters."""
        from .stats import collect_stats  # not needed to connect: loaded on first use

        core = self._core
        return await collect_stats(core.connector.peer, core.hub.fanouts, core.hub.started_at)
