"""What every kind of session shares: its lifecycle, its options, and the client's registry.

A session kind (v1's `Session`, v3's `RealtimeSession`, `LiveAvatarSession`) keeps its own
state enum and transition table, as data, and changes state only through one
`Lifecycle.transition`. Its client tracks it in a `SessionRegistry` from the moment the
client's factory (``client.session()``, ``client.realtime()``) made it; the client's
``aclose()`` ends every session still open, including those whose close is already in
flight, under one bound: the longest ``close_bound`` of them plus `CLOSE_MARGIN`.

Ending a billed session is cleanup that cancellation must not cut short, so this module
also holds the tools every kind ends its sessions with: `end_on_server` (send the ending
call, v1's ``streaming.stop``, v3's cancel or LiveAvatar's stop, again if cancelled, until
confirmed or its budget is spent) and `finish` (a close task that absorbs cancellations,
e.g. those ``asyncio.run`` sends every task at exit); the registry waits for closes in
flight with ``_http.client.outlast`` (a caller that waits although it is cancelled, then
re-raises), which the client's own close uses too.

To plug a new kind in: implement `TrackedSession` (three members), keep a `Lifecycle`, and
have its client ``add`` each session it makes to its registry. This module imports only
`_errors`, `_http.client` (``outlast``) and `_media.ring` (the capacity rule), never an
API package.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from ._errors import ConfigurationError, NotFoundError
from ._http.client import outlast
from ._media.ring import check_capacity

__all__ = [
    "CLOSE_MARGIN",
    "Lifecycle",
    "SessionRegistry",
    "TrackedSession",
    "check_options",
    "end_on_server",
    "finish",
]

logger = logging.getLogger("heygen_streaming")

CLOSE_MARGIN = 6.0
"""Seconds the client's ``aclose()`` waits for its sessions beyond their own close bound
(the peer connection's close, the media's release)."""

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


class TrackedSession(Protocol):
    """A session of any API as its client's `SessionRegistry` sees it."""

    @property
    def close_bound(self) -> float:
        """Seconds its close may take at most (its stop or cancel timeout)."""
        ...

    @property
    def needs_close(self) -> bool:
        """True from its start until its close, and any stop that close left running,
        ended (a close in flight counts: the client waits for it)."""
        ...

    async def aclose_quietly(self) -> None:
        """Close it, or wait for the close in flight; a failed stop is logged, not raised."""
        ...


class SessionRegistry:
    """The sessions of one client, of every kind; `aclose` ends those still open.

    Sessions are held weakly: a forgotten session can still be collected (its own
    finaliser warns about it).
    """

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, session: TrackedSession) -> None:
        """Track ``session`` until it is collected."""
        self._sessions.add(session)

    async def aclose(self) -> None:
        """Close every session that needs it and wait, bounded: the longest `close_bound`
        plus `CLOSE_MARGIN`; closes still running then are cancelled.

        Cancelling the caller does not cut the wait short (`outlast`): the client closes
        its HTTP client after this returns, and a close still sending its stop or cancel
        needs it. The cancellation is raised once the closes ended.
        """
        sessions: list[TrackedSession] = [s for s in list(self._sessions) if s.needs_close]
        if sessions:
            await outlast(self._close(sessions))

    @staticmethod
    async def _close(sessions: list[TrackedSession]) -> None:
        bound = max(s.close_bound for s in sessions) + CLOSE_MARGIN
        closes = [asyncio.ensure_future(s.aclose_quietly()) for s in sessions]
        _, late = await asyncio.wait(closes, timeout=bound)
        if late:
            logger.warning("%d session(s) did not close within %.1f s", len(late), bound)
            for task in late:
                task.cancel()
        for outcome in await asyncio.gather(*closes, return_exceptions=True):
            if isinstance(outcome, Exception):
                logger.warning("closing a session failed: %r", outcome)


# -- ending a session on the server, whatever cancels the caller ---------------------------


async def end_on_server(
    call: Callable[[float], Awaitable[object]],
    budget: float,
    *,
    what: str,
    budget_name: str,
) -> str | None:
    """Send ``call(remaining_seconds)`` until it is confirmed (None) or ``budget`` seconds
    have passed (the cause of the failure, for the caller's warning).

    The ending call of a billed session (v1's ``streaming.stop``, v3's cancel) is
    idempotent: "not found" counts as ended, and cancelling the running task aborts the
    call in flight, which is then sent again (the cancellation is absorbed: this is
    cleanup; ``asyncio.run`` cancels every task once at exit, a second Ctrl-C too).
    Any other failure ends the attempts (the client already retried what it could).
    ``what`` names the call in log lines, ``budget_name`` the option in the cause.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    task = asyncio.current_task()
    cause = f"no answer within {budget_name}={budget:g} s"
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                await call(remaining)
            return None
        except NotFoundError:
            logger.debug("%s: already gone", what)
            return None
        except asyncio.CancelledError:
            if task is None:
                raise
            task.uncancel()
            cause = "cancelled"
            logger.info("%s was cancelled: sending it again", what)
        except TimeoutError:
            break
        except Exception as exc:  # the client already retried what it could
            cause = f"{type(exc).__name__}: {exc}"
            break
    return cause


async def finish(awaitable: Awaitable[Any]) -> bool:
    """Wait for ``awaitable`` even if the running task is cancelled meanwhile.

    For a session's own close task: returns True if a cancellation was absorbed (the
    caller re-raises it once its cleanup is done).
    """
    future = asyncio.ensure_future(awaitable)
    task = asyncio.current_task()
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            if task is None or not task.cancelling():
                raise
            task.uncancel()
            cancelled = True
    return cancelled


def check_options(
    durations: Mapping[str, Any],
    *,
    optional: Collection[str] = (),
    capacities: Mapping[str, Any] | None = None,
) -> None:
    """The options every session kind checks before any request (`ConfigurationError`).

    ``durations`` are positive seconds (``None``, "off", only for the names in
    ``optional``); ``capacities`` are whole numbers of frames >= 1.
    """
    for name, value in durations.items():
        if value is None:
            if name not in optional:
                raise ConfigurationError(f"{name} cannot be None")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"{name} must be a number, not {type(value).__name__}")
        if not value > 0:
            off = " (or None: off)" if name in optional else ""
            raise ConfigurationError(f"{name} must be positive{off}")
    for name, value in (capacities or {}).items():
        check_capacity(value, name)
