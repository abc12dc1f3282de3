"""When does queued speech end? Backs ``Session.speak(wait=True)``.

The server's talking events decide when it sends them (matched by ``task_id`` when they
carry one); otherwise the estimate is ``duration_ms`` after the end of the speech queued
before it. An interrupt ends every wait; a session end makes waits raise ``SessionClosed``.
Waits are predicates on the session's `Lifecycle`, woken by its transitions and by the
speech events here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import SessionClosed
from .state import Lifecycle

if TYPE_CHECKING:
    from .models import TaskInfo

__all__ = ["MAX_TASK_SECONDS", "SpeechTracker"]

logger = logging.getLogger("heygen_streaming")

# How long past the duration estimate to wait for the server's "stopped talking" event.
TALKING_EVENT_GRACE = 10.0

MAX_TASK_SECONDS = 3600.0
"""Longest ``duration_ms`` believed (a session's hour); a longer one counts as this long."""


def _seconds(duration_ms: float | None) -> float | None:
    """A task's duration in seconds; ``None`` when unknown or not a duration (negative,
    NaN, infinite: a hostile or broken answer must not make a wait hang or end early)."""
    if duration_ms is None:
        return None
    if not math.isfinite(duration_ms) or duration_ms < 0:
        logger.warning("ignoring the task's duration_ms %r: not a duration", duration_ms)
        return None
    return min(duration_ms / 1000.0, MAX_TASK_SECONDS)


@dataclass(frozen=True)
class Mark:
    """Counters taken just before a task was sent."""

    interrupts: int
    stops: int


class SpeechTracker:
    """Tracks queued speech, talking events and interrupts for one session."""

    def __init__(self, life: Lifecycle) -> None:
        self._life = life
        self._version = 0
        self._until = 0.0
        self._ends: dict[str, float] = {}
        self._interrupts = 0
        self._stops = 0
        self._stopped_ids: collections.deque[str] = collections.deque(maxlen=256)
        self._server_events = False
        self._server_task_ids = False

    @property
    def speaking_until(self) -> float:
        """``time.monotonic()`` at which the queued speech is estimated to end."""
        return self._until

    def _notify(self) -> None:
        self._version += 1
        self._life.notify()

    def mark(self) -> Mark:
        """Snapshot before sending a task."""
        return Mark(self._interrupts, self._stops)

    def queued(self, task: TaskInfo) -> None:
        """A task was accepted: extend the speech estimate by its duration."""
        seconds = _seconds(task.duration_ms)
        if seconds is None:
            return
        now = time.monotonic()
        self._until = max(now, self._until) + seconds
        self._ends[task.task_id] = self._until
        if len(self._ends) > 256:
            self._ends.pop(next(iter(self._ends)))

    def talking_started(self, task_id: str | None) -> None:
        """The server said the avatar started talking."""
        self._server_events = True
        self._server_task_ids = self._server_task_ids or task_id is not None
        self._notify()

    def talking_stopped(self, task_id: str | None) -> None:
        """The server said the avatar stopped talking."""
        self._server_events = True
        self._stops += 1
        if task_id is not None:
            self._server_task_ids = True
            self._stopped_ids.append(task_id)
        self._notify()

    def interrupted(self) -> None:
        """Speech was interrupted: nothing is queued any more."""
        self._interrupts += 1
        self._until = time.monotonic()
        self._ends.clear()
        self._notify()

    def _done(self, task: TaskInfo, mark: Mark) -> float | None:
        """None when the task is done, else the monotonic deadline to wait for."""
        life = self._life
        if life.ended:
            message = life.end_message or "the session was closed"
            raise SessionClosed(
                f"session ended while speaking: {message}", reason=life.end_reason or "closed"
            )
        if self._interrupts != mark.interrupts:
            return None
        end = self._ends.get(task.task_id)
        if self._server_events:
            if task.task_id in self._stopped_ids:
                return None
            if not self._server_task_ids and self._stops > mark.stops:
                return None
            return (end if end is not None else time.monotonic()) + TALKING_EVENT_GRACE
        return end

    async def wait_done(self, task: TaskInfo, mark: Mark) -> None:
        """Wait until ``task`` finished speaking (see the module docstring)."""
        while True:
            deadline = self._done(task, mark)
            if deadline is None:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._life.wait_for(self._changed_since(self._version))
            except TimeoutError:
                pass

    def _changed_since(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version or self._life.ended
