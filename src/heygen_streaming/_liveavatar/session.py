"""LiveAvatarSession: one LiveAvatar session, FULL or LITE, from token to stop.

The public facade; the parts behind it live in `SessionCore`. A session is single use:
after its close every command, a new stream and a second ``async with`` raise
`SessionClosed` (``reason="closed"``); after an end it did not ask for (the service
stopped it, the room went away) they raise it with that end's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, SessionError
from .._media.streams import FrameStream, audio_resampler
from .._sessions.facade import MediaSession
from .core import SessionCore, stop_command
from .events import EventStream, LiveAvatarEvent
from .lite_sender import Pacing
from .options import LiveAvatarMode
from .state import LiveAvatarEndReason, LiveAvatarState

if TYPE_CHECKING:
    import av

    from .api import LiveAvatarAPI
    from .audio_input import AudioSource
    from .models import Transcript
    from .wire import StartedSession

__all__ = ["LiveAvatarSession"]

MAX_TEXT = 10_000


def _check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ConfigurationError(f"text must be at most {MAX_TEXT} characters")
    return text


class LiveAvatarSession(MediaSession[LiveAvatarState, LiveAvatarEndReason]):
    """A LiveAvatar session; use ``async with client.session(...) as s``.

    Made by `LiveAvatarClient.session`, which checks every option before any request.
    Leaving the block — normally, by an exception, by cancellation (also a second one,
    and anyio / Trio-style cancel scopes) — or closing the client always stops the session
    on the service (also before its room connected); a stop that cannot be confirmed
    raises, or is attached to the exception as a note, `SessionNotStopped`, which names
    the command that stops it.
    """

    _core: SessionCore

    def __init__(
        self,
        api: LiveAvatarAPI,
        mode: LiveAvatarMode,
        *,
        token_args: Mapping[str, Any] | None,
        session_token: str | None,
        can_look_up: bool,
        secrets: list[str],
        reapers: set[Any],
        connect_timeout: float,
        stop_timeout: float,
        keep_alive_interval: float | None,
        watchdog_timeout: float | None,
        interrupt_timeout: float,
        video_capacity: int,
        audio_capacity: int,
    ) -> None:
        self.mode = mode
        self.connect_timeout = connect_timeout
        self.stop_timeout = stop_timeout
        self.keep_alive_interval = keep_alive_interval
        self.watchdog_timeout = watchdog_timeout
        self.interrupt_timeout = interrupt_timeout
        self.video_capacity = video_capacity
        self.audio_capacity = audio_capacity
        self._api = api
        self._core = SessionCore(
            api,
            mode,
            self,
            token_args=token_args,
            session_token=session_token,
            can_look_up=can_look_up,
            secrets=secrets,
            reapers=reapers,
        )
        self._senders: set[asyncio.Task[float]] = set()

    def __repr__(self) -> str:
        return (
            f"<LiveAvatarSession {self.mode.value} id={self._core.sid()!r} "
            f"state={self._core.life.state}>"
        )

    def _stop_hint(self, sid: str) -> str:
        return stop_command(sid)

    # -- properties ----------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The service's session id (`SessionError` before ``/token`` answered)."""
        sid = self._core.connector.session_id
        if sid is None:
            raise SessionError("the session has no id yet: connect it first")
        return sid

    @property
    def info(self) -> StartedSession:
        """What ``/v1/sessions/start`` answered (its tokens stay out of the repr)."""
        started = self._core.connector.started
        if started is None:
            raise SessionError("the session has not started yet: connect it first")
        return started

    # -- commands ------------------------------------------------------------------------

    def _need(self, mode: LiveAvatarMode, what: str) -> None:
        self._core.check_usable()
        if self.mode is not mode:
            other = "speak_audio()" if mode is LiveAvatarMode.FULL else "speak() / respond()"
            raise SessionError(f"{what} needs a {mode.value.upper()} session; use {other}")

    async def _say(self, event_type: str, text: str, wait: bool) -> str:
        self._need(LiveAvatarMode.FULL, event_type.split(".")[-1])
        speech_id = uuid.uuid4().hex
        self._core.speech.begin(speech_id)
        await self._core.command(event_type, speech_id, text=_check_text(text))
        if wait:
            await self._core.speech.wait(speech_id)
        return speech_id

    async def speak(self, text: str, *, wait: bool = False) -> str:
        """FULL: the avatar says exactly ``text`` (``avatar.speak_text``); returns the
        speech's id (`SpeakStarted.speech_id`). ``wait=True`` returns once it was said
        (``avatar.speak_ended``) or interrupted; `SessionClosed` if the session ends."""
        return await self._say("avatar.speak_text", text, wait)

    async def respond(self, text: str, *, wait: bool = False) -> str:
        """FULL: the service's LLM answers ``text`` (``avatar.speak_response``); as `speak`."""
        return await self._say("avatar.speak_response", text, wait)

    async def interrupt(self) -> None:
        """Cut the current and queued speech. LITE: the sender stops at once, and this
        returns once the service confirmed (``agent.audio_buffer_cleared`` or
        ``agent.speak_interrupted``; at most ``interrupt_timeout`` seconds)."""
        self._core.check_usable()
        for task in list(self._senders):
            task.cancel()
        if self.mode is LiveAvatarMode.FULL:
            await self._core.command("avatar.interrupt", uuid.uuid4().hex)
            self._core.speech.interrupted()
            return
        cleared = self._core.cleared = asyncio.get_running_loop().create_future()
        await self._core.command("agent.interrupt", uuid.uuid4().hex)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(cleared), self.interrupt_timeout)
        self._core.speech.interrupted()

    async def start_listening(self) -> None:
        """The avatar takes its listening pose."""
        self._core.check_usable()
        prefix = "avatar" if self.mode is LiveAvatarMode.FULL else "agent"
        await self._core.command(f"{prefix}.start_listening", uuid.uuid4().hex)

    async def stop_listening(self) -> None:
        """Back from listening to idle."""
        self._core.check_usable()
        prefix = "avatar" if self.mode is LiveAvatarMode.FULL else "agent"
        await self._core.command(f"{prefix}.stop_listening", uuid.uuid4().hex)

    async def keep_alive(self) -> None:
        """Reset the service's idle timer now (the session does it every
        ``keep_alive_interval`` seconds by itself)."""
        self._core.check_usable()
        await self._core.keep_alive()

    async def send_audio(
        self, source: AudioSource, *, sample_rate: int | None = None, channels: int = 1
    ) -> float:
        """FULL: publish ``source`` as the user's microphone (any input `speak_audio`
        takes), at real time; returns the seconds sent. The service hears it (voice
        detection, transcription, a reply in a conversational session)."""
        self._need(LiveAvatarMode.FULL, "send_audio()")
        from .audio_input import pcm_stream
        from .room import MIC_RATE

        room = self._core.connector.room
        assert room is not None
        pcm = pcm_stream(source, rate=MIC_RATE, sample_rate=sample_rate, channels=channels)
        return await room.send_audio(pcm)

    async def speak_audio(
        self,
        source: AudioSource,
        *,
        sample_rate: int | None = None,
        channels: int = 1,
        wait: bool = False,
        first_chunk: float = 0.6,
        chunk: float = 1.0,
        head_start: float = 2.0,
    ) -> str:
        """LITE: the avatar lip-syncs ``source``; returns the speech's id (its ``event_id``).

        ``source``: PCM ``bytes`` (with ``sample_rate=``, ``channels=``), a numpy array
        (``sample_rate=``), a file path PyAV opens, an ``av.AudioFrame``, or an iterable or
        async iterable of those pieces (a stream: speaking starts before it ends). All of
        it is resampled to PCM s16le mono 24 kHz and sent under one ``event_id``: a
        ``first_chunk`` seconds first, then ``chunk`` seconds each, at most ``head_start``
        seconds ahead of playback. Returns once sent; ``wait=True``: once spoken. An
        `interrupt` stops it (it returns then, the speech cut).
        """
        self._need(LiveAvatarMode.LITE, "speak_audio()")
        pacing = Pacing(first_chunk=first_chunk, chunk=chunk, head_start=head_start)
        from .audio_input import pcm_stream
        from .lite_sender import RATE, LiteSender

        sender = self._core.sender
        if sender is None:
            sender = self._core.sender = LiteSender(self._core.send_lite)
        speech_id = uuid.uuid4().hex
        pcm = pcm_stream(source, rate=RATE, sample_rate=sample_rate, channels=channels)
        self._core.speech.begin(speech_id)
        task = asyncio.ensure_future(sender.speak(pcm, speech_id, pacing))
        self._senders.add(task)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                task.cancel()
                raise
            return speech_id  # interrupted
        finally:
            if task.done():
                self._senders.discard(task)
        if not task.result():  # no audio at all: nothing to wait for
            self._core.speech.ended(speech_id)
        if wait:
            await self._core.speech.wait(speech_id)
        return speech_id

    async def transcript(self) -> Transcript:
        """What the avatar and the user said so far (``/v1/sessions/{id}/transcript``)."""
        token = self._core.connector.session_token
        return await self._api.transcript(self.session_id, token=token)

    # -- media ---------------------------------------------------------------------------

    def video(
        self, capacity: int | None = None, *, max_bytes: int | None = None
    ) -> FrameStream[av.VideoFrame]:
        """A new bounded stream of the avatar's video frames (``yuv420p``, drop-oldest),
        starting with the picture shown now. ``max_bytes`` bounds the bytes queued."""
        self._check_streamable()
        return self._core.hub.video(capacity or self.video_capacity, max_bytes)

    def audio(
        self,
        capacity: int | None = None,
        *,
        sample_rate: int | None = None,
        layout: str | None = None,
        format: str | None = None,
        max_bytes: int | None = None,
    ) -> FrameStream[av.AudioFrame]:
        """A new bounded stream of the avatar's audio (48 kHz mono s16, 20 ms frames);
        ``sample_rate`` / ``layout`` / ``format`` resample on the reader's side."""
        self._check_streamable()
        transform = audio_resampler(sample_rate, layout, format)
        return self._core.hub.audio(capacity or self.audio_capacity, transform, max_bytes)

    def events(self, capacity: int = 256) -> EventStream[LiveAvatarEvent]:
        """A new stream of typed events: those so far, then live ones; it ends after
        `SessionEnded` (always the last)."""
        self._check_streamable()
        return self._core.hub.event_stream(capacity)
