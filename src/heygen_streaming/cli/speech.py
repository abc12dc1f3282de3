"""What the session commands read and wait for: stdin's lines, the speech they queued, and
a speech the server cut short."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .. import SessionEnded, TalkingStopped

if TYPE_CHECKING:
    from .. import EventStream, TaskInfo

__all__ = ["SpeechQueue", "settle_if_cut_short", "stdin_lines"]

_SETTLE = 3.0  # seconds allowed for the end of a session whose speech was cut short
_CUT_MS = 500.0  # speech this much shorter than planned was cut short
_SPOKEN_GRACE = 10.0  # seconds past the estimated end of queued speech to wait for the event


class SpeechQueue:
    """The tasks a command sent without waiting, and when their speech should end."""

    def __init__(self) -> None:
        self.last: TaskInfo | None = None
        self.until = time.monotonic()

    def add(self, task: TaskInfo) -> None:
        """A task was accepted; it plays after the ones before it."""
        self.last = task
        seconds = (task.duration_ms or 0) / 1000
        self.until = max(time.monotonic(), self.until) + min(max(seconds, 0.0), 3600.0)

    async def wait_spoken(self, events: EventStream) -> bool:
        """Wait until the last task stopped talking or the session ended (True), or until its
        estimated end plus a grace passed (False: the server sent no talking event)."""
        last = self.last
        if last is None:
            return True
        try:
            async with asyncio.timeout(max(self.until - time.monotonic(), 0.0) + _SPOKEN_GRACE):
                async for event in events:
                    if isinstance(event, SessionEnded) or (
                        isinstance(event, TalkingStopped) and event.task_id == last.task_id
                    ):
                        return True
        except TimeoutError:
            return False
        return True


async def settle_if_cut_short(events: EventStream, task: TaskInfo) -> None:
    """If ``task``'s speech stopped well before its planned end, wait (bounded) for the
    session to end: a server interrupts the speech as it closes a session, and the close
    arrives just after. `open_run` then reports the end. ``events`` was subscribed before
    the task was sent; only what it already holds is read for the stop."""
    played: float | None = None
    ended = False
    while len(events):
        event = await anext(events)
        if isinstance(event, TalkingStopped) and event.task_id == task.task_id:
            played = event.duration_ms
        ended = ended or isinstance(event, SessionEnded)
    planned = task.duration_ms
    if ended or played is None or not planned or played > planned - _CUT_MS:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_SETTLE):
            async for event in events:
                if isinstance(event, SessionEnded):
                    return


async def stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read by a daemon thread so that Ctrl-C never waits for Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="heygen-cli-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line.rstrip("\r\n")
