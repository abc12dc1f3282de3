"""Stopping a realtime stream on the service: the cancel a session sends when it gives up.

A stream is billed per second until it ends, so a session that leaves its block (or hits
``max_seconds``) cancels it, bounded by ``cancel_timeout``; a create still in flight then is
awaited first, so the stream it made is known and cancelled too. A cancel that cannot be
confirmed is logged as a warning: the stream may still run until the service's own limits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .._errors import HeyGenError, NotFoundError

if TYPE_CHECKING:
    from .._client import StreamingClient

__all__ = ["cancel_on_server", "created_id"]

logger = logging.getLogger("heygen_streaming")


async def cancel_on_server(client: StreamingClient, stream_id: str, timeout: float) -> bool:  # noqa: ASYNC109 - a budget
    """``POST .../cancel``, bounded; True when the stream is known to be stopped."""
    try:
        await asyncio.wait_for(
            client.cancel_realtime(stream_id, timeout=timeout),
            timeout + 1.0,
        )
    except NotFoundError:
        logger.debug("realtime cancel: stream %s was already gone", stream_id)
    except (HeyGenError, TimeoutError) as exc:
        logger.warning("realtime cancel failed for stream %s: %s", stream_id, exc)
        return False
    return True


async def created_id(create: asyncio.Task[Any], timeout: float) -> str | None:  # noqa: ASYNC109
    """The id of the stream a create in flight makes, waited for up to ``timeout`` seconds
    (None, and the create cancelled, when it fails or takes longer)."""
    try:
        created = await asyncio.wait_for(asyncio.shield(create), timeout)
    except BaseException:
        create.cancel()
        return None
    return str(created.stream_id)
