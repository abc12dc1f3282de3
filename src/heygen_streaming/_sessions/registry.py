"""The sessions of one client, of every kind: its ``aclose()`` ends those still open.

A client tracks each session in its `SessionRegistry` from the moment the client's
factory (``client.session()``, ``client.realtime()``) made it; the client's ``aclose()``
ends every session still open, including those whose close is already in flight, under
one bound: the longest ``close_bound`` of them plus `CLOSE_MARGIN`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from .._http.client import outlast

__all__ = ["CLOSE_MARGIN", "SessionRegistry", "TrackedSession"]

logger = logging.getLogger("heygen_streaming")

CLOSE_MARGIN = 6.0
"""Seconds the client's ``aclose()`` waits for its sessions beyond their own close bound
(the peer connection's close, the media's release)."""


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
