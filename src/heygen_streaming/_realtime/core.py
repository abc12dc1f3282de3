"""The engine of a `RealtimeSession`: create, follow, guard and cancel one stream.

Lifecycle (a `RealtimeState` in the shared `Lifecycle`, changed only by
`RealtimeCore.transition`; the table is ``state.TRANSITIONS``)::

    new -> [waiting ->] creating -> pending -> streaming -> completed | error
                            \\         \\          \\
                             +---------+----------+--> cancelled  (leaving the block,
                                                       max_seconds, a start that failed)

``waiting`` is a ``text_stream`` opened without text: the service needs the first words to
create a stream, so the first text creates it (`send_text`), and the rest of the start
(waiting until the HLS URL is live) runs in the background (`open_later`).

A stream is billed per second until it ends, so the close (leaving the block, normally, by
an exception or by cancellation) cancels it unless it already ended. The close runs in a
task of its own that absorbs cancellations (`finish`; ``asyncio.run`` cancels every task
once at exit), and its cancel call is sent again when cancelled (`cancel_on_server`). A
create still in flight is awaited until its own deadline, then its stream is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    ConnectTimeout,
    RealtimeStreamError,
    SessionClosed,
    SessionError,
)
from .._sessions import finish
from .cancel import Created, cancel_on_server, settle_create
from .models import RealtimeAppendResult, RealtimeInfo
from .poll import StatusPoller
from .state import TERMINAL, Lifecycle, RealtimeMode, RealtimeState
from .text import TextInput

if TYPE_CHECKING:
    from .._client import StreamingClient
    from .media import RealtimeMedia

__all__ = ["CREATE_WAIT", "RealtimeCore", "SessionOptions"]

logger = logging.getLogger("heygen_streaming")

S = RealtimeState
_T = TypeVar("_T")

CREATE_WAIT = 60.0
"""Seconds a close waits for the late answer of a create in flight when the client has no
``timeout`` (otherwise the client's ``timeout``: the create's own deadline)."""


@dataclass(frozen=True)
class SessionOptions:
    """The timing options of one session (checked by `RealtimeSession`)."""

    max_seconds: float | None
    ready_timeout: float
    poll_interval: float
    cancel_timeout: float


class RealtimeCore:
    """State, start, status, cost guard, text input and close of one realtime stream."""

    def __init__(
        self,
        client: StreamingClient,
        mode: RealtimeMode,
        create_args: dict[str, Any],
        options: SessionOptions,
        media: RealtimeMedia,
    ) -> None:
        self.client = client
        self.mode = mode
        self.options = options
        self.media = media
        self._create_args = create_args
        self.deferred = mode == "text_stream" and create_args.get("text") is None
        self.stream_id: str | None = None
        self.life = Lifecycle(lambda: self.stream_id)
        self.info: RealtimeInfo | None = None
        self.start_error: BaseException | None = None
        self.text = TextInput(self.send_text)
        self._poller: StatusPoller | None = None
        self._create_task: asyncio.Task[Any] | None = None
        self._create_deadline = 0.0
        self._opening: asyncio.Task[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.close_task: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[Any] | None = None
        self._close_reason = "cancelled"

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> RealtimeState:
        """The current state."""
        return self.life.state

    def transition(
        self, new: RealtimeState, *, end_reason: str | None = None, error_message: str | None = None
    ) -> bool:
        """The one place the state changes (through the `Lifecycle`); returns False when
        ``new`` is not reachable. An end releases the media readers."""
        if not self.life.transition(new, end_reason, error_message or ""):
            return False
        if new is S.ERROR:
            self.media.fail(f"realtime stream failed: {error_message or 'no error_message'}")
        elif new in TERMINAL:
            self.media.stream_over()
        return True

    def stream_error(self, context: str) -> RealtimeStreamError:
        """The `RealtimeStreamError` of a stream that ended in ``error``."""
        message = self.life.end_message or None
        return RealtimeStreamError(
            f"{context}: realtime stream {self.stream_id} failed: {message or 'no error_message'}",
            stream_id=self.stream_id,
            error_message=message,
        )

    def last_status(self) -> str:
        """The last status the service reported, for messages."""
        return self.info.status if self.info is not None else "none"

    def check_running(self) -> None:
        """Raise unless the stream can take text: `SessionClosed` (`RealtimeStreamError`)
        once it ended or the session closed, `SessionError` before the session started."""
        if self.start_error is not None:
            raise SessionClosed(
                f"the realtime stream did not start: {self.start_error}",
                reason=self.life.end_reason or "closed",
            ) from self.start_error
        if self.life.state is S.ERROR:
            raise self.stream_error("the stream is over")
        if self.life.state in TERMINAL or self.close_task is not None:
            raise SessionClosed(
                f"the realtime stream has ended ({self.life.end_reason or 'closed'})",
                reason=self.life.end_reason or "closed",
            )
        if self.life.state is S.NEW:
            raise SessionError("the stream is not started: use `async with client.realtime()`")

    # -- start -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the stream and wait until it is live, or (no text yet) wait for text."""
        if self.life.state is not S.NEW or self.close_task is not None:
            raise SessionClosed(
                "a RealtimeSession is single use: create a new one with client.realtime()",
                reason="reused",
            )
        if self.deferred:
            self.transition(S.WAITING)
            return
        await self.open(self._create_args["text"])

    async def open(self, text: str) -> None:
        """Create the stream with ``text`` and wait until its HLS URL is live, bounded by
        ``ready_timeout``; on failure the stream is cancelled and the error raised."""
        self.transition(S.CREATING)
        deadline = asyncio.timeout(self.options.ready_timeout)
        try:
            async with deadline:
                await self._create(text)
                await self.life.wait_for(lambda: self.life.state is not S.PENDING)
        except BaseException as exc:
            error = exc
            if isinstance(exc, TimeoutError) and deadline.expired():
                error = ConnectTimeout(
                    f"the realtime stream was not live within ready_timeout="
                    f"{self.options.ready_timeout:g} s (last status: {self.last_status()})"
                )
            if not isinstance(exc, asyncio.CancelledError) and self.close_task is None:
                self.start_error = error
                self._close_reason = (
                    "connect_timeout" if isinstance(error, ConnectTimeout) else "start_failed"
                )
                message = f"the realtime stream did not start: {error}"
                self.media.fail(message, reason=self._close_reason)
            if self.close_task is None:  # else the close is under way (and waits for us)
                await self.aclose()
            if error is exc:
                raise
            raise error from None
        if self.life.state is S.ERROR:  # changed by the steps above
            await self.aclose()
            raise self.stream_error("start")

    def open_later(self, text: str) -> None:
        """Start `open` in the background (a ``text_stream`` created by its first text);
        its failure is kept in `start_error` and the state, raised by later calls."""

        async def opening() -> None:
            with contextlib.suppress(BaseException):  # kept in start_error / the state
                await self.open(text)

        self._opening = asyncio.ensure_future(opening())

    async def _create(self, text: str) -> None:
        loop = asyncio.get_running_loop()
        self._create_deadline = loop.time() + (self.client.timeout or CREATE_WAIT)
        args = {**self._create_args, "text": text} if self.mode != "audio" else self._create_args
        self._create_task = asyncio.ensure_future(self.client.create_realtime(self.mode, **args))
        created = await asyncio.shield(self._create_task)
        self.stream_id = created.stream_id
        logger.info("realtime stream %s created (%s)", created.stream_id, self.mode)
        self.transition(S.PENDING)
        self._poller = StatusPoller(
            self.client,
            created.stream_id,
            interval=self.options.poll_interval,
            live=lambda: self.life.state is not S.PENDING,
            done=lambda: self.life.state in TERMINAL,
            on_info=self._apply,
            on_lost=self._lost,
        )
        self.tasks.append(asyncio.ensure_future(self._poller.run()))
        if self.options.max_seconds is not None:
            self.tasks.append(asyncio.ensure_future(self._cost_guard(self.options.max_seconds)))

    async def wait_created(self, *, running: bool = True) -> str:
        """The stream id once the create answered (at once if it did). With ``running``,
        raises as `check_running` once the session ended or closed; else only when no
        stream was created (`SessionClosed`)."""
        await self.life.wait_for(
            lambda: self.stream_id is not None or self.life.ended or self.close_task is not None
        )
        if running:
            self.check_running()
        if self.stream_id is None:
            if self.start_error is not None:
                self.check_running()
            raise SessionClosed(
                f"no stream was created ({self.life.end_reason or 'closed'})",
                reason=self.life.end_reason or "closed",
            )
        return self.stream_id

    def media_ended(self) -> None:
        """The media reached the end of the HLS stream: the final status is near."""
        if self._poller is not None:
            self._poller.poke()

    def _lost(self, message: str) -> None:
        self.transition(S.ERROR, end_reason="error", error_message=message)

    def _apply(self, info: RealtimeInfo) -> None:
        self.info = info
        if info.hls_url:
            self.media.set_url(info.hls_url)
        if info.status == "streaming" and self.media.url is not None:
            self.transition(S.STREAMING)
        elif info.status == "completed":
            self.transition(S.COMPLETED, end_reason=info.end_reason or "completed")
        elif info.status == "error":
            self.transition(S.ERROR, end_reason="error", error_message=info.error_message)

    async def _cost_guard(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.life.state in TERMINAL:
            return
        logger.warning(
            "realtime %s: max_seconds=%g reached, cancelling the stream", self.stream_id, seconds
        )
        if await self._cancel_on_server():  # else leaving the block tries again
            self.transition(S.CANCELLED, end_reason="max_seconds")

    # -- text ------------------------------------------------------------------------------

    async def send_text(self, text: str, final: bool) -> RealtimeAppendResult:
        """Send one batch of text (`TextInput` calls this, one batch at a time, in order).

        The first text of a stream opened without any creates it; ``final`` with no text
        before ends such a session at once (``end_reason="no_text"``: nothing was billed).
        """
        self.check_running()
        if self.life.state is S.WAITING:
            if not text:
                self.transition(S.COMPLETED, end_reason="no_text")
                return RealtimeAppendResult(buffered_bytes=0, ok=True)
            self.open_later(text)
            await self.life.wait_for(
                lambda: (
                    self.stream_id is not None
                    or self.start_error is not None
                    or self.close_task is not None
                )
            )
            if self.stream_id is None:  # the create failed: its own error, as it is,
                if self._opening is not None:  # once the session has closed
                    await asyncio.wait({self._opening})
                if self.start_error is not None:
                    raise self.start_error
                self.check_running()
            result = RealtimeAppendResult(buffered_bytes=len(text.encode()), ok=True)
            if not final:
                return result
            text = ""
        stream_id = await self.wait_created()
        return await self.client.append_realtime_text(stream_id, text, final=final)

    # -- close -----------------------------------------------------------------------------

    @property
    def close_bound(self) -> float:
        """Seconds the close may take: ``cancel_timeout``, plus the rest of the create's
        own deadline while a create is in flight."""
        bound = self.options.cancel_timeout
        create = self._create_task
        if create is not None and not create.done():
            remaining = self._create_deadline - asyncio.get_running_loop().time()
            bound += max(remaining, 0.0)
        return bound

    @property
    def needs_close(self) -> bool:
        """True once started, until its close (even one in flight) ended."""
        closing = self.close_task
        return self.life.state is not S.NEW and (closing is None or not closing.done())

    async def aclose(self) -> None:
        """Cancel the stream unless it ended and release everything (idempotent; the
        close runs in its own task, which cancelling the caller does not stop)."""
        if self.close_task is None:
            self._closer = asyncio.current_task()  # (a failed background start waits for it)
            self.close_task = asyncio.ensure_future(self._cleanup())
            self.life.notify()  # wakes word streams and waiters
        await asyncio.shield(self.close_task)

    async def _cleanup(self) -> None:
        cancelled = await finish(self._stop_tasks())
        closed = SessionClosed("the realtime session is closed", reason="closed")
        self.text.close(self.start_error or closed)  # text given before a failed start: its error
        cancelled |= await finish(self.text.wait_closed())
        unknown = False
        create = self._create_task
        if self.stream_id is None and create is not None:
            # the create was in flight when we gave up: wait for its answer, then cancel
            wait = max(self._create_deadline - asyncio.get_running_loop().time(), 0.0) + 1.0
            settling = asyncio.ensure_future(settle_create(create, wait))
            cancelled |= await finish(settling)
            outcome = _result(settling, Created(None, unknown=True))
            self.stream_id, unknown = outcome.stream_id, outcome.unknown
        if self.life.state not in TERMINAL:
            stopped = not unknown
            if self.stream_id is not None:
                cancel = asyncio.ensure_future(self._cancel_on_server())
                cancelled |= await finish(cancel)
                stopped = _result(cancel, False)
            # "cancel_failed": the service may still run (and bill) it; the warning is logged
            reason = self._close_reason if stopped else "cancel_failed"
            self.transition(S.CANCELLED, end_reason=reason)
        elif self.life.state is S.ERROR and not (self.info and self.info.terminal):
            # the SDK gave up following a stream the service never said had ended (polling
            # kept failing): it may still run, so cancel it all the same
            cancelled |= await finish(self._cancel_on_server())
        cancelled |= await finish(self._close_media())
        logger.info("realtime stream %s closed (%s)", self.stream_id, self.life.end_reason)
        if cancelled:
            raise asyncio.CancelledError

    async def _stop_tasks(self) -> None:
        spare = (asyncio.current_task(), self._closer)
        tasks = [t for t in (*self.tasks, self._opening) if t is not None and t not in spare]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close_media(self) -> None:
        try:
            await self.media.close(self.options.cancel_timeout)
        except Exception as exc:  # a close must finish: report, go on
            logger.warning("realtime %s: closing the media failed: %r", self.stream_id, exc)

    async def _cancel_on_server(self) -> bool:
        assert self.stream_id is not None
        return await cancel_on_server(self.client, self.stream_id, self.options.cancel_timeout)

    # -- waits -----------------------------------------------------------------------------

    async def wait_ended(self) -> str | None:
        """Wait until the stream ends or the session closes; the end reason (raises
        `RealtimeStreamError` for ``error``, a background start's error for a failed start)."""
        await self.life.wait_for(lambda: self.life.state in TERMINAL or self.close_task is not None)
        if self.life.state is S.ERROR:
            raise self.stream_error("wait_ended")
        if self.start_error is not None:  # a background start failed: raised once it closed
            if self.close_task is not None:
                await asyncio.wait({self.close_task})
            raise self.start_error
        return self.life.end_reason

    async def wait_live(self) -> None:
        """Wait until the HLS URL is known, the stream ended or the session closed."""
        await self.life.wait_for(
            lambda: (
                self.media.url is not None
                or self.life.state in TERMINAL
                or self.close_task is not None
            )
        )


def _result(task: asyncio.Task[_T], otherwise: _T) -> _T:
    """The result of a cleanup step's task, or ``otherwise`` if it was cancelled before it
    could absorb the cancellation (at a program's exit)."""
    return otherwise if task.cancelled() else task.result()
