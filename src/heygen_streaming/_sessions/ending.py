"""Ending a billed session is cleanup that cancellation must not cut short.

`end_on_server` sends the ending call (v1's ``streaming.stop``, v3's cancel or
LiveAvatar's stop) again if cancelled, until confirmed or its budget is spent; `finish`
runs a close task to its end, absorbing cancellations (e.g. those ``asyncio.run`` sends
every task at exit). A client waits for closes in flight with ``_http.client.outlast``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import NotFoundError

__all__ = ["end_on_server", "finish"]

logger = logging.getLogger("heygen_streaming")


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
