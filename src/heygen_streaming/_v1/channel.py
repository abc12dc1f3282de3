"""Messages from the server's data channel, read defensively.

HeyGen's server sends its talking events as binary frames holding UTF-8 JSON; text frames
are accepted too. The handler runs inside aiortc's SCTP receive loop, where an exception
would end the connection, so a message that is too large or cannot be parsed (invalid
UTF-8, JSON nested deeply enough to exhaust the recursion limit) is logged and skipped.
"""

from __future__ import annotations

import logging

from .events import SessionEvent, parse_server_message

__all__ = ["MAX_MESSAGE_BYTES", "read_message"]

logger = logging.getLogger("heygen_streaming")

MAX_MESSAGE_BYTES = 64 * 1024


def read_message(message: object) -> SessionEvent | None:
    """The event a data-channel message carries, or None (logged) for one to skip."""
    if not isinstance(message, str | bytes):
        logger.warning("skipping a data-channel message of type %s", type(message).__name__)
        return None
    size = len(message)
    if isinstance(message, str) and size <= MAX_MESSAGE_BYTES:
        size = len(message.encode("utf-8", "replace"))
    if size > MAX_MESSAGE_BYTES:
        logger.warning(
            "skipping a %d-byte data-channel message (limit %d)", size, MAX_MESSAGE_BYTES
        )
        return None
    try:
        text = message.decode("utf-8") if isinstance(message, bytes) else message
        return parse_server_message(text)
    except UnicodeDecodeError:
        logger.warning("skipping a data-channel message that is not UTF-8")
    except Exception as exc:  # RecursionError, ...: a server message must never end the session
        name = type(exc).__name__
        logger.warning("skipping a data-channel message that cannot be parsed: %s", name)
    return None
