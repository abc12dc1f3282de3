"""RealtimeSession: one Avatar Realtime (v3, HLS) stream, from create to cancel.

Lifecycle (a `RealtimeState` in the shared `Lifecycle`, changed only by
`RealtimeSession._transition`; the table is ``state.TRANSITIONS``)::

    new -> creating -> pending -> streaming -> completed | error
                  \\         \\          \\
                   +---------+----------+--> cancelled   (leaving the block, max_seconds)

A stream is billed per second until it ends, so leaving ``async with`` (normally, by an
exception or by cancellation) cancels it unless it already ended; the cancel is shielded
and bounded by ``cancel_timeout``. A create still in flight is awaited, then cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._errors import (
    ConfigurationError,
    ConnectTimeout,
    RealtimeStreamError,
    SessionClosed,
    SessionError,
)
from .._media.recording import RecordingInfo
from .._media.streams import FrameStream
from .._sessions import check_options
from .cancel import cancel_on_server, created_id
from .hls.media import check_remux_path
from .media import RealtimeMedia
from .models import RealtimeAppendResult, RealtimeInfo, Word, create_body
from .poll import StatusPoller
from .state import TERMINAL, Lifecycle, RealtimeMode, RealtimeState
from .words import follow_words

if TYPE_CHECKING:
    import av
    import httpx

    from .._client import StreamingClient

__all__ = ["RealtimeMode", "RealtimeSession", "RealtimeState"]

logger = logging.getLogger("heygen_streaming")


class RealtimeSession:
    """An Avatar Realtime stream; use ``async with client.realtime(...) as rt``.

    Entering creates the stream and waits (up to ``ready_timeout``) until its HLS URL is
    live; leaving cancels it unless it already ended.

    Args:
        client: the `StreamingClient` making the calls (a stream made by
            ``client.realtime()`` belongs to it: its ``aclose()`` cancels the stream first).
        avatar / voice: avatar (look) id and voice id (``voice`` is not used in ``audio`` mode).
        text: the script (``tts``) or the first words (``text_stream``, then `say`).
        mode: ``"text_stream"`` (default), ``"tts"`` or ``"audio"``.
        audio: for ``mode="audio"``: an ``http(s)`` URL, a file path, bytes or an asset dict.
        max_seconds: cost guard: the stream is cancelled this many seconds after creation
            (``end_reason == "max_seconds"``); None disables it.
        ready_timeout: bound on create + waiting for the HLS URL (`ConnectTimeout`).
        poll_interval: seconds between status polls once streaming (0.2 s before).
        cancel_timeout: bound on the cancel call when leaving.
        video_capacity / audio_capacity: default capacity of `video` / `audio` streams.
        hls_http_client: the ``httpx.AsyncClient`` for HLS requests (not closed here);
            by default the session opens its own. No credentials are sent with them.
    """

    def __init__(
        self,
        client: StreamingClient,
        *,
        avatar: str,
        voice: str | None = None,
        text: str | None = None,
        mode: RealtimeMode = "text_stream",
        audio: str | os.PathLike[str] | bytes | Mapping[str, Any] | None = None,
        max_seconds: float | None = 600.0,
        ready_timeout: float = 60.0,
        poll_interval: float = 1.0,
        cancel_timeout: float = 5.0,
        video_capacity: int = 10,
        audio_capacity: int = 50,
        hls_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        placeholder = {"type": "url"} if audio is not None else None
        create_body(mode, avatar_id=avatar, voice_id=voice, text=text, audio=placeholder)
        check_options(
            {
                "ready_timeout": ready_timeout,
                "poll_interval": poll_interval,
                "cancel_timeout": cancel_timeout,
                "max_seconds": max_seconds,
            },
            optional=("max_seconds",),
            capacities={"video_capacity": video_capacity, "audio_capacity": audio_capacity},
        )
        self._client = client
        self._create_args: dict[str, Any] = {
            "avatar_id": avatar,
            "voice_id": voice,
            "text": text,
            "audio": audio,
        }
        self.mode: RealtimeMode = mode
        self.max_seconds = max_seconds
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self.cancel_timeout = cancel_timeout
        self._stream_id: str | None = None
        self._life = Lifecycle(lambda: self._stream_id)
        self._info: RealtimeInfo | None = None
        self._poller: StatusPoller | None = None
        self._media = RealtimeMedia(
            video_capacity, audio_capacity, self._media_ended, hls_http_client
        )
        self._create_task: asyncio.Task[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._close_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<RealtimeSession id={self._stream_id!r} status={self._life.state.value}>"

    # -- properties ------------------------------------------------------------------------

    @property
    def stream_id(self) -> str:
        """The service's stream id (`SessionError` before the create answered)."""
        if self._stream_id is None:
            raise SessionError("the stream has no id yet: enter `async with` first")
        return self._stream_id

    @property
    def status(self) -> RealtimeState:
        """The current `RealtimeState` (a string enum: ``rt.status == "streaming"``)."""
        return self._life.state

    @property
    def hls_url(self) -> str | None:
        """The HLS playlist URL once live (self-authorising: treat it as a secret)."""
        return self._media.url

    @property
    def started(self) -> bool:
        """True once `start` ran and until the session is closed."""
        return self._life.state is not RealtimeState.NEW and self._close_task is None

    @property
    def info(self) -> RealtimeInfo | None:
        """The last status the service reported."""
        return self._info

    @property
    def end_reason(self) -> str | None:
        """Why the stream ended: the service's (``final_marker``, ``idle_timeout``, ...),
        ``"error"``, ``"cancelled"``, ``"max_seconds"``, or ``"cancel_failed"`` (leaving the
        block could not cancel it: it may still run on the service); None while it runs."""
        return self._life.end_reason

    @property
    def error_message(self) -> str | None:
        """The service's ``error_message`` when the stream ended in ``error``."""
        return self._life.end_message or None

    # -- state -----------------------------------------------------------------------------

    def _transition(
        self,
        new: RealtimeState,
        *,
        end_reason: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """The one place the state changes (through the `Lifecycle`); returns False when
        ``new`` is not reachable. An end releases the media readers."""
        if not self._life.transition(new, end_reason, error_message or ""):
            return False
        if new is RealtimeState.ERROR:
            self._media.fail(f"realtime stream failed: {error_message or 'no error_message'}")
        elif new in TERMINAL:
            self._media.stream_over()
        return True

    def _stream_error(self, context: str) -> RealtimeStreamError:
        return RealtimeStreamError(
            f"{context}: realtime stream {self._stream_id} failed: "
            f"{self.error_message or 'no error_message'}",
            stream_id=self._stream_id,
            error_message=self.error_message,
        )

    # -- start -----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Create the stream and wait until its HLS URL is live (``__aenter__`` calls this).

        Raises `ConnectTimeout` after ``ready_timeout``, `RealtimeStreamError` if the stream
        fails first; either way the stream is cancelled before the error is raised.
        """
        if self._life.state is not RealtimeState.NEW or self._close_task is not None:
            raise SessionClosed(
                "a RealtimeSession is single use: create a new one with client.realtime()",
                reason="reused",
            )
        self._transition(RealtimeState.CREATING)
        deadline = asyncio.timeout(self.ready_timeout)
        try:
            async with deadline:
                await self._start_steps()
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, TimeoutError) and deadline.expired():
                raise ConnectTimeout(
                    f"the realtime stream was not live within ready_timeout="
                    f"{self.ready_timeout:g} s (last status: {self._last_status()})"
                ) from None
            raise
        if self.status is RealtimeState.ERROR:  # changed by the steps above
            await self.aclose()
            raise self._stream_error("start")

    def _last_status(self) -> str:
        return self._info.status if self._info is not None else "none"

    async def _start_steps(self) -> None:
        args = dict(self._create_args)
        self._create_task = asyncio.ensure_future(self._client.create_realtime(self.mode, **args))
        created = await asyncio.shield(self._create_task)
        self._stream_id = created.stream_id
        logger.info("realtime stream %s created (%s)", created.stream_id, self.mode)
        self._transition(RealtimeState.PENDING)
        self._poller = StatusPoller(
            self._client,
            created.stream_id,
            interval=self.poll_interval,
            live=lambda: self._life.state is not RealtimeState.PENDING,
            done=lambda: self._life.state in TERMINAL,
            on_info=self._apply,
            on_lost=self._lost,
        )
        self._tasks.append(asyncio.ensure_future(self._poller.run()))
        if self.max_seconds is not None:
            self._tasks.append(asyncio.ensure_future(self._cost_guard(self.max_seconds)))
        await self._life.wait_for(lambda: self._life.state is not RealtimeState.PENDING)

    def _media_ended(self) -> None:
        if self._poller is not None:
            self._poller.poke()  # the final status is near: ask now

    def _lost(self, message: str) -> None:
        self._transition(RealtimeState.ERROR, end_reason="error", error_message=message)

    def _apply(self, info: RealtimeInfo) -> None:
        self._info = info
        if info.hls_url:
            self._media.set_url(info.hls_url)
        if info.status == "streaming" and self._media.url is not None:
            self._transition(RealtimeState.STREAMING)
        elif info.status == "completed":
            self._transition(RealtimeState.COMPLETED, end_reason=info.end_reason or "completed")
        elif info.status == "error":
            self._transition(
                RealtimeState.ERROR, end_reason="error", error_message=info.error_message
            )

    async def _cost_guard(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self._life.state in TERMINAL:
            return
        logger.warning(
            "realtime %s: max_seconds=%g reached, cancelling the stream", self._stream_id, seconds
        )
        if await self._cancel_on_server():  # else leaving the block tries again
            self._transition(RealtimeState.CANCELLED, end_reason="max_seconds")

    # -- close -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel the stream unless it ended, stop reading and release everything.

        Idempotent and shielded: cancelling the caller does not stop the cleanup.
        """
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._cleanup())
            self._life.notify()  # wakes word streams and waiters
        await asyncio.shield(self._close_task)

    # `TrackedSession`: how the client's registry closes it.

    @property
    def close_bound(self) -> float:
        """Seconds its close may take (``cancel_timeout``)."""
        return self.cancel_timeout

    @property
    def needs_close(self) -> bool:
        """True once started, until its close (even one in flight) ended."""
        closing = self._close_task
        return self._life.state is not RealtimeState.NEW and (closing is None or not closing.done())

    async def aclose_quietly(self) -> None:
        """`aclose` (which logs a failed cancel instead of raising it)."""
        await self.aclose()

    async def _cleanup(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        if self._stream_id is None and self._create_task is not None:
            # the create was in flight when we gave up: wait for it, then cancel its stream
            self._stream_id = await created_id(self._create_task, self.cancel_timeout)
        if self._life.state not in TERMINAL:
            stopped = self._stream_id is None or await self._cancel_on_server()
            # "cancel_failed": the service may still run (and bill) it; the warning is logged
            reason = "cancelled" if stopped else "cancel_failed"
            self._transition(RealtimeState.CANCELLED, end_reason=reason)
        elif self._life.state is RealtimeState.ERROR and not (self._info and self._info.terminal):
            # the SDK gave up following a stream the service never said had ended (polling
            # kept failing): it may still run, so cancel it all the same
            await self._cancel_on_server()
        await self._media.close(self.cancel_timeout)
        logger.info("realtime stream %s closed (%s)", self._stream_id, self._life.end_reason)

    async def _cancel_on_server(self) -> bool:
        return await cancel_on_server(self._client, self.stream_id, self.cancel_timeout)

    # -- text ------------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._life.state is RealtimeState.ERROR:
            raise self._stream_error("the stream is over")
        if self._life.state in TERMINAL or self._close_task is not None:
            raise SessionClosed(
                f"the realtime stream has ended ({self._life.end_reason or 'closed'})",
                reason=self._life.end_reason or "closed",
            )
        if self._stream_id is None:
            raise SessionError("the stream is not started: use `async with client.realtime()`")

    async def say(self, delta: str) -> RealtimeAppendResult:
        """Append ``delta`` to a ``text_stream`` (spoken after what came before)."""
        if self.mode != "text_stream":
            raise ConfigurationError(f"say() needs mode='text_stream', not {self.mode!r}")
        self._check_running()
        return await self._client.append_realtime_text(self.stream_id, delta)

    async def finish(self, delta: str = "") -> RealtimeAppendResult:
        """Close the input (a final delta): the stream completes once everything is spoken."""
        if self.mode != "text_stream":
            raise ConfigurationError(f"finish() needs mode='text_stream', not {self.mode!r}")
        self._check_running()
        return await self._client.append_realtime_text(self.stream_id, delta, final=True)

    async def wait_ended(self) -> str | None:
        """Wait until the stream ends; return `end_reason` (`RealtimeStreamError` on error)."""
        await self._life.wait_for(
            lambda: self._life.state in TERMINAL or self._close_task is not None
        )
        if self._life.state is RealtimeState.ERROR:
            raise self._stream_error("wait_ended")
        return self._life.end_reason

    # -- media -----------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        if self._close_task is not None:
            raise SessionClosed("the realtime session is closed", reason="closed")
        if self._stream_id is None:
            raise SessionError("the stream is not started: use `async with client.realtime()`")

    def video(
        self, capacity: int | None = None, *, max_bytes: int | None = None
    ) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of decoded video frames (drop-oldest; see `FrameStream`).

        Decoding starts with the first `video` or `audio` call, from the first segment
        listed. Iteration ends at the end of the stream; it raises `SessionClosed`
        (``reason="error"``) if the stream failed, ``"hls_failed"`` if reading it failed.
        ``max_bytes`` bounds the decoded bytes queued (default 32 MiB: ~23 frames at 720p).
        """
        self._check_streamable()
        return self._media.video(capacity, max_bytes)

    def audio(
        self,
        capacity: int | None = None,
        *,
        sample_rate: int | None = None,
        layout: str | None = None,
        format: str | None = None,
        max_bytes: int | None = None,
    ) -> FrameStream[av.AudioFrame]:
        """A new bounded stream of decoded audio frames (AAC decodes to float planar).

        ``sample_rate`` / ``layout`` / ``format`` (e.g. ``16000, "mono", "s16"``) resample on
        the reader's side; ``max_bytes`` bounds the decoded bytes queued (default 1 MiB).
        """
        self._check_streamable()
        return self._media.audio(
            capacity, max_bytes, sample_rate=sample_rate, layout=layout, format=format
        )

    async def words(self) -> AsyncIterator[Word]:
        """The spoken words with their times (seconds from the start of the stream's audio).

        Each call replays the history first (the service sends it to late subscribers),
        then follows live; it ends when the service ends the word stream, the session
        closes, or the stream has ended and no word came for ``WORDS_GRACE`` seconds (then,
        if it ended in ``error``, it raises `RealtimeStreamError`).
        """
        self._check_streamable()
        words = follow_words(
            self._client.realtime_words(self.stream_id),
            closed=self._closed,
            ended=self._ended,
            failure=self._failure,
        )
        async with contextlib.aclosing(words):
            async for word in words:
                yield word

    def _failure(self) -> RealtimeStreamError | None:
        return self._stream_error("words") if self._life.state is RealtimeState.ERROR else None

    async def _closed(self) -> None:
        await self._life.wait_for(lambda: self._close_task is not None)

    async def _ended(self) -> None:
        await self._life.wait_for(
            lambda: self._life.state in TERMINAL or self._close_task is not None
        )

    async def record(
        self, path: str | os.PathLike[str], duration: float | None = None
    ) -> RecordingInfo:
        """Write the stream to ``path`` (.mp4/.mkv/.mov/.ts) until it ends, or ``duration`` s.

        The H.264/AAC packets are copied without re-encoding, from the first segment the
        playlist lists (the start of the stream). If the stream fails meanwhile, the file is
        finished with what was received and `RealtimeStreamError` is raised.
        """
        self._check_streamable()
        check_remux_path(path)
        if duration is not None and not duration > 0:
            raise ConfigurationError("duration must be positive (or None: until the end)")
        if self._media.url is None:
            if self._life.state is RealtimeState.ERROR:
                raise self._stream_error("record")
            raise SessionClosed("the stream ended before it was live: nothing to record")
        info = await self._media.record(path, duration)
        if self._life.state is RealtimeState.ERROR:
            raise self._stream_error("record")
        return info
