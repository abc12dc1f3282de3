"""Session: one streaming avatar over WebRTC, from ``streaming.new`` to ``streaming.stop``.

The public facade; the parts behind it live in `SessionCore`. A session is single use.
After `Session.aclose` every command, a new stream and a second ``async with`` raise
`SessionClosed` (``reason="closed"``); after an abnormal end they raise it with the
reason of that end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._errors import SessionError
from .._media.streams import FrameStream, audio_resampler
from .._sessions.facade import MediaSession
from .core import SessionCore
from .enums import TaskModeName, TaskTypeName
from .events import EventStream
from .state import EndReason, SessionState

if TYPE_CHECKING:
    import av

    from .._client import StreamingClient
    from .created import CreatedSession
    from .enums import TaskMode, TaskType
    from .models import IceServer, NewSessionInfo, TaskInfo
    from .stats import SessionStats

__all__ = ["Session"]


class Session(MediaSession[SessionState, EndReason]):
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

    _core: SessionCore

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

    def _stop_hint(self, sid: str) -> str:
        return f"heygen-streaming sessions stop {sid}"

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
    def closed_reason(self) -> str | None:
        """`end_reason` as a string (kept for compatibility)."""
        return self._core.life.end_reason

    @property
    def connection_states(self) -> list[str]:
        """aiortc connection states seen so far, oldest first."""
        return self._core.connection_states

    # -- commands ----------------------------------------------------------------------

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

    # -- stats ---------------------------------------------------------------------------

    async def stats(self) -> SessionStats:
        """A snapshot of inbound RTP statistics per kind, plus the SDK's frame counters."""
        from .stats import collect_stats  # not needed to connect: loaded on first use

        core = self._core
        return await collect_stats(core.connector.peer, core.hub.fanouts, core.hub.started_at)
