"""RealtimeSession: one Avatar Realtime (v3, HLS) stream, from create to cancel.

The public facade: arguments, properties, text, frames, words, recordings. The engine
(lifecycle, start, status poller, cost guard, cancel and close) is `RealtimeCore`
(``core``); the ordered text input is `TextInput` (``text``). The lifecycle::

    new -> [waiting ->] creating -> pending -> streaming -> completed | error
                            \\         \\          \\
                             +---------+----------+--> cancelled   (leaving the block,
                                                       max_seconds, a start that failed)

A stream is billed per second until it ends, so leaving ``async with`` (normally, by an
exception or by cancellation) cancels it unless it already ended; the cancel is shielded,
sent again if cancelled, and bounded by ``cancel_timeout``. A create still in flight is
awaited, then its stream cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Collection, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._errors import ConfigurationError, SessionClosed, SessionError
from .._media.recording import RecordingInfo
from .._media.streams import FrameStream
from .._sessions import check_options
from .core import RealtimeCore, SessionOptions
from .hls.hosts import check_hosts
from .hls.media import check_remux_path
from .media import RealtimeMedia
from .models import SESSION_NAMES, RealtimeAppendResult, RealtimeInfo, Word, create_body
from .state import TERMINAL, RealtimeMode, RealtimeState
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
    live; leaving cancels it unless it already ended. A ``text_stream`` opened without
    ``text`` enters at once: its first `say` creates the stream (the service needs the
    first words), and everything else (frames, words, `record`) waits for it.

    Args:
        client: the `StreamingClient` making the calls (a stream made by
            ``client.realtime()`` belongs to it: its ``aclose()`` cancels the stream first).
        avatar / voice: avatar (look) id and voice id (``voice`` is not used in ``audio`` mode).
        text: the script (``tts``) or the first words (``text_stream``; None: the first
            `say` gives them).
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
        hls_hosts: hosts the HLS reader may fetch from besides the playlist's own host
            and where it redirects (``"cdn.example.com"``, ``"*.example.com"``, ``"*"``);
            link-local and cloud metadata addresses are refused whatever this says.
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
        hls_hosts: Collection[str] = (),
    ) -> None:
        placeholder = {"type": "url"} if audio is not None else None
        first = "-" if text is None and mode == "text_stream" else text  # None: say() gives it
        create_body(
            mode, avatar_id=avatar, voice_id=voice, text=first, audio=placeholder,
            names=SESSION_NAMES,
        )  # fmt: skip
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
        self.mode: RealtimeMode = mode
        self.max_seconds = max_seconds
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self.cancel_timeout = cancel_timeout
        options = SessionOptions(max_seconds, ready_timeout, poll_interval, cancel_timeout)
        media = RealtimeMedia(
            video_capacity,
            audio_capacity,
            lambda: self._core.media_ended(),
            hls_http_client,
            hls_hosts=check_hosts(hls_hosts),
        )
        args = {"avatar_id": avatar, "voice_id": voice, "text": text, "audio": audio}
        self._core = RealtimeCore(client, mode, args, options, media)
        self._client = client

    def __repr__(self) -> str:
        core = self._core
        return f"<RealtimeSession id={core.stream_id!r} status={core.state.value}>"

    # -- properties ------------------------------------------------------------------------

    @property
    def stream_id(self) -> str:
        """The service's stream id (`SessionError` before the create answered)."""
        if self._core.stream_id is None:
            raise SessionError("the stream has no id yet: enter `async with` first")
        return self._core.stream_id

    @property
    def status(self) -> RealtimeState:
        """The current `RealtimeState` (a string enum: ``rt.status == "streaming"``)."""
        return self._core.state

    @property
    def hls_url(self) -> str | None:
        """The HLS playlist URL once live (self-authorising: treat it as a secret)."""
        return self._core.media.url

    @property
    def started(self) -> bool:
        """True once `start` ran and until the session is closed."""
        return self._core.state is not RealtimeState.NEW and self._core.close_task is None

    @property
    def info(self) -> RealtimeInfo | None:
        """The last status the service reported."""
        return self._core.info

    @property
    def end_reason(self) -> str | None:
        """Why the stream ended: the service's (``final_marker``, ``idle_timeout``, ...),
        ``"error"``, ``"cancelled"``, ``"max_seconds"``, ``"connect_timeout"`` or
        ``"start_failed"`` (it did not start), ``"no_text"`` (`finish` before any text:
        nothing was created), or ``"cancel_failed"`` (it could not be cancelled: it may
        still run on the service); None while it runs."""
        return self._core.life.end_reason

    @property
    def error_message(self) -> str | None:
        """The service's ``error_message`` when the stream ended in ``error``."""
        return self._core.life.end_message or None

    # -- start and close -------------------------------------------------------------------

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
        """Create the stream and wait until its HLS URL is live (``__aenter__`` calls this);
        a ``text_stream`` without text returns at once (its first `say` creates it).

        Raises `ConnectTimeout` after ``ready_timeout``, `RealtimeStreamError` if the stream
        fails first; either way the stream is cancelled before the error is raised.
        """
        await self._core.start()

    async def aclose(self) -> None:
        """Cancel the stream unless it ended, stop reading and release everything.

        Idempotent and shielded: cancelling the caller does not stop the cleanup, which
        runs in its own task and sends the cancel again if that task is cancelled too.
        """
        await self._core.aclose()

    # `TrackedSession`: how the client's registry closes it.

    @property
    def close_bound(self) -> float:
        """Seconds its close may take (``cancel_timeout``, plus a create in flight's own
        deadline)."""
        return self._core.close_bound

    @property
    def needs_close(self) -> bool:
        """True once started, until its close (even one in flight) ended."""
        return self._core.needs_close

    async def aclose_quietly(self) -> None:
        """`aclose` (which logs a failed cancel instead of raising it)."""
        await self.aclose()

    # -- text ------------------------------------------------------------------------------

    async def say(self, delta: str) -> RealtimeAppendResult:
        """Append ``delta`` to a ``text_stream``, spoken after everything said before.

        Usable as soon as the block is entered, before the stream is live. Calls are sent
        in the order they were made, even concurrent ones; deltas given while an append is
        in flight go together in the next one. Returns the service's answer to the append
        that carried ``delta``.
        """
        return await self._put(delta, final=False, name="say")

    async def finish(self, delta: str = "") -> RealtimeAppendResult:
        """Close the input (a final delta, sent after every earlier `say`): the stream
        completes once everything is spoken."""
        return await self._put(delta, final=True, name="finish")

    async def _put(self, delta: str, *, final: bool, name: str) -> RealtimeAppendResult:
        if self.mode != "text_stream":
            raise ConfigurationError(f"{name}() needs mode='text_stream', not {self.mode!r}")
        if not isinstance(delta, str):
            raise ConfigurationError(f"delta must be a string, not {type(delta).__name__}")
        if not delta and not final:
            raise ConfigurationError("say() needs a non-empty delta")
        self._core.check_running()
        return await asyncio.shield(self._core.text.put(delta, final))

    async def wait_ended(self) -> str | None:
        """Wait until the stream ends; return `end_reason` (`RealtimeStreamError` on error;
        a stream opened without text raises its start's error if it did not start)."""
        return await self._core.wait_ended()

    # -- media -----------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        if self._core.close_task is not None:
            raise SessionClosed("the realtime session is closed", reason="closed")
        if self._core.state is RealtimeState.NEW:
            raise SessionError("the stream is not started: use `async with client.realtime()`")

    def video(
        self, capacity: int | None = None, *, max_bytes: int | None = None
    ) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of decoded video frames (drop-oldest; see `FrameStream`).

        Decoding starts with the first `video` or `audio` call (or once the stream is live,
        if asked before), from the first segment listed. Iteration ends at the end of the
        stream; it raises `SessionClosed` (``reason="error"``) if the stream failed,
        ``"hls_failed"`` if reading it failed. ``max_bytes`` bounds the decoded bytes
        queued (default 32 MiB: ~23 frames at 720p).
        """
        self._check_streamable()
        return self._core.media.video(capacity, max_bytes)

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
        return self._core.media.audio(
            capacity, max_bytes, sample_rate=sample_rate, layout=layout, format=format
        )

    async def words(self) -> AsyncIterator[Word]:
        """The spoken words with their times (seconds from the start of the stream's audio).

        Each call replays the history first (the service sends it to late subscribers),
        then follows live; it ends when the service ends the word stream, the session
        closes, or the stream has ended and no word came for ``WORDS_GRACE`` seconds (then,
        if it ended in ``error``, it raises `RealtimeStreamError`). Before the stream was
        created (opened without text), it waits for the create.
        """
        self._check_streamable()
        try:
            stream_id = await self._core.wait_created(running=False)
        except SessionClosed:
            if self._core.start_error is not None:
                raise
            return  # closed before any text: no stream, no words
        words = follow_words(
            self._client.realtime_words(stream_id),
            closed=self._closed,
            ended=self._ended,
            failure=self._failure,
        )
        async with contextlib.aclosing(words):
            async for word in words:
                yield word

    def _failure(self) -> BaseException | None:
        core = self._core
        return core.stream_error("words") if core.state is RealtimeState.ERROR else None

    async def _closed(self) -> None:
        await self._core.life.wait_for(lambda: self._core.close_task is not None)

    async def _ended(self) -> None:
        core = self._core
        await core.life.wait_for(lambda: core.state in TERMINAL or core.close_task is not None)

    async def record(
        self, path: str | os.PathLike[str], duration: float | None = None
    ) -> RecordingInfo:
        """Write the stream to ``path`` (.mp4/.mkv/.mov/.ts) until it ends, or ``duration`` s.

        The H.264/AAC packets are copied without re-encoding, from the first segment the
        playlist lists (the start of the stream; if asked before it is live, recording
        starts once it is). If the stream fails meanwhile, the file is finished with what
        was received and `RealtimeStreamError` is raised.
        """
        self._check_streamable()
        check_remux_path(path)
        if duration is not None and not duration > 0:
            raise ConfigurationError("duration must be positive (or None: until the end)")
        core = self._core
        await core.wait_live()
        if core.media.url is None:
            if core.state is RealtimeState.ERROR:
                raise core.stream_error("record")
            if core.start_error is not None:
                raise SessionClosed(
                    f"the stream did not start: nothing to record ({core.start_error})",
                    reason=core.life.end_reason or "closed",
                ) from core.start_error
            raise SessionClosed("the stream ended before it was live: nothing to record")
        info = await core.media.record(path, duration)
        if core.state is RealtimeState.ERROR:
            raise core.stream_error("record")
        return info
