"""Session states, end reasons, and `Lifecycle`: the one place a session changes state.

Every wait of a session (``wait_connected()``, the connect steps, recordings) is a
predicate over the state, re-checked after each transition, so no waiter can miss one.

Transitions (any other is refused, so a late callback cannot undo an end):

    new        -> connecting | closing
    connecting -> connected | failed | closing
    connected  -> failed | closing
    failed     -> closing
    closing    -> closed
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable

__all__ = ["EndReason", "Lifecycle", "SessionState"]

logger = logging.getLogger("heygen_streaming")


class SessionState(enum.StrEnum):
    """Where a `Session` is in its life (compares equal to its lower-case string)."""

    NEW = "new"
    """Created, not connected yet."""
    CONNECTING = "connecting"
    """``streaming.new`` sent; waiting for the first frame."""
    CONNECTED = "connected"
    """Media flows; commands are accepted."""
    FAILED = "failed"
    """Ended abnormally (see `Session.end_reason`); leaving the block still cleans up."""
    CLOSING = "closing"
    """Cleanup runs: ``streaming.stop`` and the peer connection's close."""
    CLOSED = "closed"
    """Everything released; the session cannot be used again."""


class EndReason(enum.StrEnum):
    """Why a session ended (compares equal to its string, as in `SessionClosed.reason`)."""

    CLOSED = "closed"
    """Closed by the program (the block ended, `Session.aclose`, the client's ``aclose``)."""
    CANCELLED = "cancelled"
    """The connect was cancelled."""
    CONNECT_TIMEOUT = "connect-timeout"
    """No media within ``connect_timeout``."""
    CONNECT_FAILED = "connect-failed"
    """A connect step failed (an API error, an offer that could not be applied)."""
    CONNECTION_FAILED = "connection-failed"
    """ICE or DTLS failed."""
    REMOTE_CLOSED = "remote-closed"
    """The server closed the connection, a track ended, or the session is gone."""
    WATCHDOG = "watchdog"
    """No media for ``watchdog_timeout`` seconds."""


S = SessionState
_ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    S.NEW: frozenset({S.CONNECTING, S.CLOSING}),
    S.CONNECTING: frozenset({S.CONNECTED, S.FAILED, S.CLOSING}),
    S.CONNECTED: frozenset({S.FAILED, S.CLOSING}),
    S.FAILED: frozenset({S.CLOSING}),
    S.CLOSING: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
ENDED = frozenset({S.FAILED, S.CLOSING, S.CLOSED})


class Lifecycle:
    """The state, the end reason and the waiters of one session.

    ``label`` gives the session's name for log lines (its id once known).
    """

    def __init__(self, label: Callable[[], str]) -> None:
        self._label = label
        self.state = SessionState.NEW
        self.end_reason: EndReason | None = None
        self.end_message = ""
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def ended(self) -> bool:
        """True from the first abnormal end or the start of cleanup on."""
        return self.state in ENDED

    def transition(
        self, new: SessionState, reason: EndReason | None = None, message: str = ""
    ) -> bool:
        """Move to ``new`` if allowed (False, and nothing changes, if not); wake every waiter.

        The first end (``failed`` or ``closing``) records ``reason`` (``closing`` without
        one records `EndReason.CLOSED`).
        """
        old = self.state
        if new not in _ALLOWED[old]:
            return False
        self.state = new
        if new in (S.FAILED, S.CLOSING) and self.end_reason is None:
            self.end_reason = reason or EndReason.CLOSED
            self.end_message = message
        why = f" ({self.end_reason}{': ' + message if message else ''})" if new in ENDED else ""
        logger.info("session %s: %s -> %s%s", self._label(), old, new, why)
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
