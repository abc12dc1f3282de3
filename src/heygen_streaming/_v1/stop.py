"""Stopping a session on the server: a ``streaming.stop`` that a second Ctrl-C cannot abort.

A stopped session is billed no more; a session left open is billed until the service's
idle timeout. So ``streaming.stop`` is sent as soon as cleanup starts, and if the task
sending it is cancelled (``asyncio.run`` cancels every task on a second Ctrl-C) the call
is sent again, until it is confirmed or ``stop_timeout`` has passed. When it cannot be
confirmed, `SessionNotStopped` names the session and the command that stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from .._errors import NotFoundError, SessionNotStopped

if TYPE_CHECKING:
    pass

__all__ = ["finish", "stop_on_server"]

logger = logging.getLogger("heygen_streaming")


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
