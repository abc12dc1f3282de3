"""Stopping a session on the server: a ``streaming.stop`` that a second Ctrl-C cannot abort.

A stopped session is billed no more; a session left open is billed until the service's
idle timeout. So ``streaming.stop`` is sent as soon as cleanup starts, and if the task
sending it is cancelled (``asyncio.run`` cancels every task on a second Ctrl-C) the call
is sent again, until it is confirmed or ``stop_timeout`` has passed (the loop is
`_sessions.end_on_server`, shared with v3's cancel). When it cannot be confirmed,
`SessionNotStopped` names the session and the command that stops it.
"""

from __future__ import annotations

import logging
from typing import Any

from .._errors import SessionNotStopped
from .._sessions import end_on_server

__all__ = ["stop_on_server"]

logger = logging.getLogger("heygen_streaming")


async def stop_on_server(
    client: Any,
    session_id: str,
    timeout: float,  # noqa: ASYNC109 - a budget, not a deadline
) -> SessionNotStopped | None:
    """Send ``streaming.stop`` until confirmed (None) or ``timeout`` passed (the error).

    "Not found" counts as stopped; cancelling the running task aborts the call in flight,
    which is then sent again (see `end_on_server`).
    """
    cause = await end_on_server(
        lambda remaining: client.stop_session(session_id, timeout=remaining),
        timeout,
        what=f"streaming.stop for session {session_id}",
        budget_name="stop_timeout",
    )
    if cause is None:
        return None
    error = SessionNotStopped(session_id, cause)
    logger.warning("streaming.stop failed: %s", error)
    return error
