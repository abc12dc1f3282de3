"""Stopping a realtime stream on the service: the cancel a session sends when it gives up.

A stream is billed per second until it ends, so a session that leaves its block (or hits
``max_seconds``) cancels it, within ``cancel_timeout``; the cancel is sent again if the
task sending it is cancelled (`_sessions.end_on_server`, the loop v1's ``streaming.stop``
uses too). A create still in flight then is awaited first, until it answers or its own
deadline passes, so the stream it made is known and cancelled too. What cannot be
confirmed is logged as a WARNING that names what may still run on the bill.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import APIConnectionError, APIError, ClientClosedError, ConfigurationError
from .._http.retry import never_sent
from .._sessions import end_on_server

if TYPE_CHECKING:
    from .._client import StreamingClient

__all__ = ["BILLED_UNTIL", "Created", "cancel_on_server", "settle_create"]

logger = logging.getLogger("heygen_streaming")

BILLED_UNTIL = (
    "HeyGen ends a text_stream after 30 s without new text, any stream after 1 hour; "
    "it is billed per second until then"
)
"""What a stream the SDK could not cancel costs, for warnings."""


async def cancel_on_server(client: StreamingClient, stream_id: str, timeout: float) -> bool:  # noqa: ASYNC109 - a budget
    """``POST .../cancel`` until confirmed or ``timeout`` passed; True when the stream is
    known to be stopped (a stream the service no longer knows counts as stopped)."""
    cause = await end_on_server(
        lambda remaining: client.cancel_realtime(stream_id, timeout=remaining),
        timeout,
        what=f"realtime cancel of stream {stream_id}",
        budget_name="cancel_timeout",
    )
    if cause is None:
        return True
    logger.warning(
        "realtime cancel failed for stream %s: %s; it may still run: %s",
        stream_id,
        cause,
        BILLED_UNTIL,
    )
    return False


@dataclass(frozen=True)
class Created:
    """What a create in flight turned out to make: ``stream_id``, or None with ``unknown``
    True when it may have made a stream nobody knows the id of."""

    stream_id: str | None
    unknown: bool = False


async def settle_create(create: asyncio.Task[Any], wait: float) -> Created:
    """The outcome of a create still in flight when its session gave up, waited for up to
    ``wait`` seconds (its own deadline): its stream, none, or unknown.

    An answer of the service (an `APIError` below 500) or a request that provably never
    left made nothing; anything else (no answer in time, a broken connection, an answer we
    cannot read, a 5xx, a cancellation) may have made a stream.
    """
    try:
        created = await asyncio.wait_for(asyncio.shield(create), wait)
    except BaseException as exc:  # a cancellation too: then nobody reads the answer
        create.cancel()
        if _made_nothing(exc):
            return Created(None)
        if isinstance(exc, TimeoutError):
            why = f"no answer within {wait:g} s"
        elif isinstance(exc, asyncio.CancelledError):
            why = "cancelled before it answered"
        else:
            why = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "realtime: the create sent before the session gave up failed (%s); it may "
            "have made a stream whose id nobody knows, which cannot be cancelled: %s",
            why,
            BILLED_UNTIL,
        )
        return Created(None, unknown=True)
    logger.info("realtime stream %s was created after its session gave up", created.stream_id)
    return Created(str(created.stream_id))


def _made_nothing(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        return exc.status < 500
    if isinstance(exc, APIConnectionError):
        return never_sent(exc.__cause__) if exc.__cause__ is not None else False
    return isinstance(exc, ConfigurationError | ClientClosedError)  # refused before sending
