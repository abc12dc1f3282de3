"""Stopping sessions on the server: a ``streaming.stop`` that a second Ctrl-C cannot abort,
and the registry through which a `StreamingClient` stops its sessions before it closes.

A stopped session is billed no more; a session left open is billed until the service's
idle timeout. So ``streaming.stop`` is sent as soon as cleanup starts, and if the task
sending it is cancelled (``asyncio.run`` cancels every task on a second Ctrl-C) the call
is sent again, until it is confirmed or ``stop_timeout`` has passed. When it cannot be
confirmed, `SessionNotStopped` names the session and the command that stops it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._errors import NotFoundError, SessionNotStopped

if TYPE_CHECKING:
    from .session import Session

__all__ = ["SessionRegistry", "stop_on_server"]

logger = logging.getLogger("heygen_streaming")

# Bound on StreamingClient.aclose() waiting for its sessions, beyond their stop_timeout.
CLOSE_MARGIN = 6.0


async def stop_on_server(
    client: Any,
    session_id: str,
    timeout: float,  # noqa: ASYNC109 - a budget, not a deadline
) -> SessionNotStopped | None:
    """Send ``streaming.stop`` until confirmed (None) or ``timeout`` passed (the error).

    "Not found" counts as stopped; the client retries what it can. Cancelling the running
    task aborts the call in flight, which is then sent again (the cancellation is absorbed:
    this is cleanup).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    task = asyncio.current_task()
    cause = f"no answer within stop_timeout={timeout:g} s"
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                await client.stop_session(session_id, timeout=remaining)
            return None
        except NotFoundError:
            logger.debug("streaming.stop: session %s was already gone", session_id)
            return None
        except asyncio.CancelledError:
            if task is None:
                raise
            task.uncancel()
            cause = "cancelled"
            logger.info("streaming.stop for session %s was cancelled: sending it again", session_id)
        except TimeoutError:
            break
        except Exception as exc:  # the client already retried what it could
            cause = f"{type(exc).__name__}: {exc}"
            break
    error = SessionNotStopped(session_id, cause)
    logger.warning("streaming.stop failed: %s", error)
    return error


async def finish(awaitable: Awaitable[Any]) -> bool:
    """Wait for ``awaitable`` even if the running task is cancelled meanwhile.

    Returns True if a cancellation was absorbed: the caller re-raises it once its own
    cleanup is done.
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


class SessionRegistry:
    """The sessions of one client, and the background stops of sessions given up on.

    `StreamingClient.aclose` calls `aclose` first, so no session outlives its client.
    """

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, session: Session) -> None:
        """Track ``session`` (weakly: a forgotten session can still be collected)."""
        self._sessions.add(session)

    def spawn(self, factory: Callable[[], Awaitable[Any]]) -> None:
        """Run a background stop the client waits for when it closes."""
        task = asyncio.ensure_future(factory())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Close every open session and wait for background stops, bounded."""
        sessions = [s for s in list(self._sessions) if s.state not in ("new", "closed")]
        closes = [s.aclose_quietly() for s in sessions]
        if not closes and not self._tasks:
            return
        bound = max([s.stop_timeout for s in sessions] + [0.0]) + CLOSE_MARGIN
        pending = [asyncio.ensure_future(c) for c in closes] + list(self._tasks)
        _, late = await asyncio.wait(pending, timeout=bound)
        if late:
            logger.warning("%d session(s) did not close within %.1f s", len(late), bound)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
