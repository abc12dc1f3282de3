"""v3 stream state and registry: status transitions, per-key limits, files and cleanup.

Status (one enum, one transition function `RealtimeStream.transition`)::

    pending --first segment listed--> streaming --+--> completed (end_reason)
       |                                           +--> error (error_message)
       +--------------------------------------------+

End reasons: ``final_marker`` (all input spoken), ``idle_timeout`` (text_stream, no new
text), ``max_duration`` (length limit) and ``cancelled`` (a cancelled stream reports
``completed``; the last two are inferred, the reference does not name them).
A stream that finished by itself stays ``streaming`` `RealtimeOptions.end_linger` seconds
more (its playlist already complete), so that a poller sees its ``hls_url``. Files of a
terminal stream are deleted `RealtimeOptions.file_grace` seconds after it ended, and all
of them on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import secrets
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .options import RealtimeOptions
from .script import Script
from .voice import voice_for
from .wire import v3_error
from .words import WordLog
from .worker import Finished, Idle, Started, StreamWorker, Words, WorkerEvent

__all__ = ["RealtimeRegistry", "RealtimeStream", "Status"]

MAX_TOMBSTONES = 1000


class Status(enum.StrEnum):
    """``GET`` status of a stream."""

    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    ERROR = "error"


_NEXT: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.STREAMING, Status.COMPLETED, Status.ERROR}),
    Status.STREAMING: frozenset({Status.COMPLETED, Status.ERROR}),
    Status.COMPLETED: frozenset(),
    Status.ERROR: frozenset(),
}


@dataclass(eq=False)
class RealtimeStream:
    """One Avatar Realtime stream."""

    stream_id: str
    owner: str = field(repr=False)
    mode: str
    avatar_id: str
    voice_id: str | None
    directory: Path = field(repr=False)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    status: Status = Status.PENDING
    end_reason: str | None = None
    error_message: str | None = None
    created_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    script: Script = field(init=False, repr=False)
    words: WordLog = field(default_factory=WordLog, repr=False)
    worker: StreamWorker | None = field(default=None, repr=False)
    files_removed: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _removed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    partial_word_wait: float = field(default=0.5, repr=False)

    def __post_init__(self) -> None:
        self.script = Script(voice_for(self.voice_id), partial_flush=self.partial_word_wait)

    @property
    def live(self) -> bool:
        """True while pending or streaming (counts against the concurrency limit)."""
        return self.status in (Status.PENDING, Status.STREAMING)

    def transition(
        self, to: Status, *, end_reason: str | None = None, error_message: str | None = None
    ) -> bool:
        """Move to ``to`` if allowed from the current status; returns whether it moved.

        Leaving ``pending``/``streaming`` stops the worker and ends the word stream.
        """
        if to not in _NEXT[self.status]:
            return False
        self.status = to
        self._changed.set()
        self._changed = asyncio.Event()
        if to is Status.COMPLETED:
            self.end_reason = end_reason
        if to is Status.ERROR:
            self.error_message = error_message or "stream failed"
        if not self.live:
            if self.worker is not None:
                self.worker.stop(end_reason or "error")
            end: dict[str, Any] = {"stream_id": self.stream_id, "status": str(to)}
            end["end_reason"] = self.end_reason
            if to is Status.ERROR:
                end["error_message"] = self.error_message
            self.words.finish(end)
        return True

    def on_worker(self, event: WorkerEvent) -> None:
        """Apply a worker event (on the event loop)."""
        if isinstance(event, Words):
            self.words.add(event.words)
        elif isinstance(event, Idle):
            self.words.flush()
        elif isinstance(event, Started):
            self.transition(Status.STREAMING)
        elif isinstance(event, Finished):
            self.seconds = event.seconds
            if event.error is not None:
                self.transition(Status.ERROR, error_message=event.error)
            else:
                self.transition(Status.COMPLETED, end_reason=event.end_reason or "final_marker")

    def mark_removed(self) -> None:
        """Record that the files are gone."""
        self.files_removed = True
        self._removed.set()

    def hls_path(self) -> str:
        """The playlist's URL path (its token authorises it)."""
        return f"/v3/avatar-realtime/{self.stream_id}/hls/{self.token}/stream.m3u8"

    def as_data(self, origin: str) -> dict[str, Any]:
        """The ``GET`` answer's ``data``."""
        data: dict[str, Any] = {"stream_id": self.stream_id, "status": str(self.status)}
        if self.status is Status.STREAMING:
            data["hls_url"] = origin + self.hls_path()
        if self.end_reason is not None:
            data["end_reason"] = self.end_reason
        if self.error_message is not None:
            data["error_message"] = self.error_message
        return data

    async def wait_status(self, *statuses: Status) -> Status:
        """Wait until the status is one of ``statuses`` (or terminal); return it."""
        while self.status not in statuses and self.live:
            await self._changed.wait()
        return self.status

    async def wait_ended(self) -> Status:
        """Wait until the stream is completed or in error; return the status."""
        return await self.wait_status(Status.COMPLETED, Status.ERROR)

    async def wait_files_removed(self) -> None:
        """Wait until the stream's files were deleted."""
        await self._removed.wait()


class RealtimeRegistry:
    """All v3 streams (live and recently ended), their limits and their files."""

    def __init__(self, options: RealtimeOptions) -> None:
        self.options = options
        self.streams: dict[str, RealtimeStream] = {}
        self._root: Path | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def root(self) -> Path:
        """The directory holding every stream's files (created on first use)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="heygen-emulator-v3-"))
        return self._root

    def live_for(self, owner: str) -> list[RealtimeStream]:
        """``owner``'s pending and streaming streams."""
        return [s for s in self.streams.values() if s.owner == owner and s.live]

    def create(self, owner: str, mode: str, avatar_id: str, voice_id: str | None) -> RealtimeStream:
        """A new pending stream (429 beyond the per-key limit); its worker is not started."""
        if self._closed:
            raise v3_error(503, "service_unavailable", "The emulator is shutting down")
        if len(self.live_for(owner)) >= self.options.max_streams:
            raise v3_error(
                429,
                "rate_limit_exceeded",
                f"At most {self.options.max_streams} concurrent Avatar Realtime sessions",
                headers={"Retry-After": f"{self.options.retry_after:g}"},
            )
        if sum(1 for s in self.streams.values() if s.live) >= self.options.max_total_streams:
            raise v3_error(
                429,
                "rate_limit_exceeded",
                f"The emulator runs at most {self.options.max_total_streams} streams in all",
                headers={"Retry-After": f"{self.options.retry_after:g}"},
            )
        stream_id = str(uuid.uuid4())
        directory = self.root / stream_id
        directory.mkdir()
        stream = RealtimeStream(
            stream_id=stream_id,
            owner=owner,
            mode=mode,
            avatar_id=avatar_id,
            voice_id=voice_id,
            directory=directory,
            partial_word_wait=self.options.partial_word_wait,
        )
        self.streams[stream_id] = stream
        self._prune()
        return stream

    def get(self, stream_id: str, owner: str) -> RealtimeStream:
        """``owner``'s stream, else 404 (unknown and foreign streams look the same)."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.owner != owner:
            raise v3_error(404, "resource_not_found", "Avatar Realtime session not found")
        return stream

    def start_worker(self, stream: RealtimeStream) -> None:
        """Start the stream's media worker (events are applied on this event loop)."""
        loop = asyncio.get_running_loop()

        def notify(event: WorkerEvent) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                loop.call_soon_threadsafe(self._on_worker, stream, event)

        stream.worker = StreamWorker(
            script=stream.script,
            directory=stream.directory,
            avatar=stream.avatar_id,
            notify=notify,
            segment_seconds=self.options.segment_seconds,
            max_length=self.options.max_length,
            idle_timeout=self.options.idle_timeout if stream.mode == "text_stream" else None,
        )
        stream.worker.start()

    def _on_worker(self, stream: RealtimeStream, event: WorkerEvent) -> None:
        if not isinstance(event, Finished):
            stream.on_worker(event)
            return
        if event.error is None and event.published and stream.live and not self._closed:
            # The complete playlist stays "streaming" (hls_url listed) for a moment, so that
            # even a stream shorter than a segment, or than a poll interval, can be found.
            stream.on_worker(Started())
            key = f"{stream.stream_id}/linger"
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(
                self.options.end_linger, self._complete, stream, event, key
            )
        else:
            self._complete(stream, event)

    def _complete(self, stream: RealtimeStream, event: Finished, key: str = "") -> None:
        self._timers.pop(key, None)
        stream.on_worker(event)
        self._schedule_removal(stream)

    def fail(self, stream: RealtimeStream, message: str) -> None:
        """Put a stream without a worker into ``error`` (and clean up its files)."""
        stream.transition(Status.ERROR, error_message=message)
        if stream.worker is None:
            self._schedule_removal(stream)

    def cancel(self, stream: RealtimeStream) -> bool:
        """Cancel a live stream; False when it had already ended."""
        moved = stream.transition(Status.COMPLETED, end_reason="cancelled")
        if moved and stream.worker is None:
            self._schedule_removal(stream)
        return moved

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a background task (e.g. fetching audio) until it is done or shutdown."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_removal(self, stream: RealtimeStream) -> None:
        if stream.stream_id in self._timers or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._timers[stream.stream_id] = loop.call_later(
            self.options.file_grace, self._remove_files, stream
        )

    def _remove_files(self, stream: RealtimeStream) -> None:
        self._timers.pop(stream.stream_id, None)
        task = asyncio.get_running_loop().create_task(self._rmtree(stream))
        self.track(task)

    async def _rmtree(self, stream: RealtimeStream) -> None:
        await asyncio.to_thread(shutil.rmtree, stream.directory, True)
        stream.mark_removed()

    def _prune(self) -> None:
        ended = [s for s in self.streams.values() if not s.live and s.files_removed]
        for stream in ended[: max(0, len(ended) - MAX_TOMBSTONES)]:
            del self.streams[stream.stream_id]

    def end_all(self) -> None:
        """Shutdown, first step: end every live stream (word streams get their end event)."""
        self._closed = True
        for stream in self.streams.values():
            stream.transition(Status.COMPLETED, end_reason="cancelled")

    async def close(self) -> None:
        """Shutdown: end every stream, stop the workers, delete all files."""
        self.end_all()
        for task in list(self._tasks):
            task.cancel()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        workers = [s.worker for s in self.streams.values() if s.worker is not None]
        for worker in workers:
            worker.stop("cancelled")
        await asyncio.gather(*(asyncio.to_thread(w.join, 10.0) for w in workers))
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root = None
        for stream in self.streams.values():
            stream.mark_removed()
