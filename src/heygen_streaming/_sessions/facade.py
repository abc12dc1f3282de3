"""What the public facade of every live-media session shares (v1's `Session`,
`LiveAvatarSession`): its state, its connect and close, its recordings.

A kind subclasses `MediaSession` with its `MediaSessionCore` in ``_core`` and keeps what
is its own: the constructor and its options, the commands, ``video()`` / ``audio()`` /
``events()`` (their formats and event types differ) and the command that stops a session
it did not close (`MediaSession._stop_hint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import AsyncIterator
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from .._errors import SessionClosed, SessionNotStopped

if TYPE_CHECKING:
    from .._media.recording import Recorder, RecordingInfo
    from .core import MediaSessionCore

__all__ = ["MediaSession"]

S = TypeVar("S", bound=Enum)
R = TypeVar("R", bound=str)


class MediaSession(Generic[S, R]):
    """The shared half of a session facade; use ``async with client.session(...) as s``."""

    _core: MediaSessionCore[S, R]
    stop_timeout: float

    def _stop_hint(self, sid: str) -> str:
        """The command that stops session ``sid`` (named when it may be left billed)."""
        raise NotImplementedError

    def __del__(self, _warn: Any = warnings.warn) -> None:
        core = getattr(self, "_core", None)
        if core is not None and core.life.state not in (core.shape.new, core.shape.closed):
            sid = core.sid()
            _warn(
                f"unclosed {type(self).__name__} {sid} ({core.life.state}): use `async with "
                "client.session()` or `await session.aclose()`; it may still be open and "
                f"billed: stop it with `{self._stop_hint(sid)}`",
                ResourceWarning,
                source=self,
            )

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> S:
        """The session's state (a string enum: compares equal to ``"connected"``, ...)."""
        return self._core.life.state

    @property
    def end_reason(self) -> R | None:
        """Why the session ended (``"closed"`` for a normal close, the service's reason
        when it ended it); None while alive."""
        return self._core.life.end_reason

    @property
    def end_message(self) -> str:
        """What is known about the end (empty for a normal close)."""
        return self._core.life.end_message

    @property
    def stop_error(self) -> SessionNotStopped | None:
        """Set when the cleanup could not confirm the stop (the session may be billed)."""
        return self._core.stop_error

    # -- connect and close ---------------------------------------------------------------

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
        """Start the session and wait for its first frame (``__aenter__`` calls this)."""
        await self._core.connect()

    async def aclose(self) -> None:
        """Stop the session and release everything; idempotent.

        Sends the stop at once (shielded; sent again if cancelled, bounded by
        ``stop_timeout``), concurrently with closing the media connection (bounded); ends
        every stream. Raises `SessionNotStopped` if the stop could not be confirmed.
        """
        await self._core.close()
        if self.stop_error is not None:
            raise self.stop_error

    async def stop(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    async def wait_connected(self) -> None:
        """Return once connected (at once if already); raise `SessionClosed` if it ended."""
        life, shape = self._core.life, self._core.shape
        await life.wait_for(lambda: life.state not in (shape.new, shape.connecting))
        self._core.check_usable()

    # `TrackedSession`: how the client's registry closes it.

    @property
    def close_bound(self) -> float:
        """Seconds its close may take (``stop_timeout``; the media closes meanwhile)."""
        return self.stop_timeout

    @property
    def needs_close(self) -> bool:
        """True once connecting, until closed and any late stop has ended."""
        core = self._core
        late = core.late_stop
        return core.life.state not in (core.shape.new, core.shape.closed) or (
            late is not None and not late.done()
        )

    async def aclose_quietly(self) -> None:
        """`aclose` that only logs a failed stop, then waits for a late stop (of a session
        created after its connect gave up); the client's cleanup uses it."""
        await self._core.close()
        if self._core.late_stop is not None:
            await asyncio.shield(self._core.late_stop)

    # -- media -----------------------------------------------------------------------------

    def _check_streamable(self) -> None:
        life, shape = self._core.life, self._core.shape
        if life.state in (shape.closing, shape.closed):
            raise SessionClosed(
                "the session is closed", reason=life.end_reason or shape.closed_reason
            )

    def _recorder(self, path: str | os.PathLike[str]) -> Recorder:
        self._core.check_usable()
        return self._core.hub.recorder(path)

    async def record(self, path: str | os.PathLike[str], duration: float) -> RecordingInfo:
        """Record ``duration`` seconds to ``path`` (.mp4/.mkv/.mov: H.264+AAC, .webm:
        VP8+Opus).

        If the session ends abnormally meanwhile, the file is finished with what was
        recorded and `SessionClosed` is raised.
        """
        recorder = self._recorder(path)
        life, shape = self._core.life, self._core.shape
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await life.wait_for(lambda: life.ended)
        finally:
            self._core.hub.forget(recorder)
            info = await recorder.stop()
        if life.end_reason not in (None, shape.closed_reason):
            reason = life.end_reason or shape.closed_reason
            raise SessionClosed(
                f"session ended during recording: {life.end_message}", reason=reason
            )
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
