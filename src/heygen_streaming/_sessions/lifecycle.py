"""One session's lifecycle: its state, its end reason and its waiters, driven by a table.

Each session kind keeps its own state enum and transition table, as data (``_v1.state``,
``_realtime.state``, ``_liveavatar.state``); `Lifecycle.transition` is the only place any
of them changes state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["Lifecycle"]

logger = logging.getLogger("heygen_streaming")

S = TypeVar("S", bound=Enum)
R = TypeVar("R", bound=str)


class Lifecycle(Generic[S, R]):
    """The state, the end reason and the waiters of one session, driven by a table.

    Args:
        initial: the first state.
        table: for each state, the states it may change to (any other change is refused,
            so a late callback cannot undo an end).
        ends: the states that end the session; entering the first of them records the end
            reason (``reason``, else ``default_reason(state)``) and its message.
        default_reason: the end reason of an end reached without one.
        label: the session's name for log lines (its id once known).
        level: the logging level of transitions.

    Every wait of a session is a predicate over its state (`wait_for`), re-checked after
    each transition and each `notify`, so no waiter can miss one.
    """

    def __init__(
        self,
        initial: S,
        table: Mapping[S, frozenset[S]],
        ends: frozenset[S],
        *,
        default_reason: Callable[[S], R],
        label: Callable[[], str],
        level: int = logging.INFO,
    ) -> None:
        self.state = initial
        self.end_reason: R | None = None
        self.end_message = ""
        self._table = table
        self._ends = ends
        self._default_reason = default_reason
        self._label = label
        self._level = level
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def ended(self) -> bool:
        """True once the session reached one of its ends."""
        return self.state in self._ends

    def transition(self, new: S, reason: R | None = None, message: str = "") -> bool:
        """Move to ``new`` if the table allows it (False, and nothing changes, if not); the
        first end records ``reason`` and ``message``; every waiter wakes."""
        old = self.state
        if new not in self._table[old]:
            return False
        self.state = new
        if new in self._ends and self.end_reason is None:
            self.end_reason = reason or self._default_reason(new)
            self.end_message = message
        why = ""
        if new in self._ends:
            why = f" ({self.end_reason}{': ' + message if message else ''})"
        logger.log(self._level, "%s: %s -> %s%s", self._label(), old.value, new.value, why)
        self.notify()
        return True

    def notify(self) -> None:
        """Wake every waiter to re-check its predicate (every transition does this too)."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is re-checked after every transition."""
        while not predicate():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._waiters.discard(waiter)
