"""The v1 wire table: the facts both paths read, the hand path (no pydantic) and the models.

A fresh process opens a session without pydantic: ``options`` builds the bodies and
``created`` reads ``streaming.new``'s answer by hand, for plain values. The models
(``models``) stand for everything else. Both take their facts from here (and the value
sets from ``enums``), so they cannot drift apart; tests/unit/test_plain_wire.py proves
they give the same bytes, values and errors.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

__all__ = [
    "ICE_CANDIDATE",
    "IDLE_TIMEOUT",
    "NEW_SESSION_INFO",
    "NEW_SESSION_REQUEST",
    "ice_server_list",
    "is_ice_server",
    "is_member",
]

logger = logging.getLogger("heygen_streaming")

NEW_SESSION_REQUEST = (
    "quality",
    "avatar_name",
    "avatar_id",
    "voice",
    "video_encoding",
    "knowledge_base",
    "knowledge_base_id",
    "version",
    "disable_idle_timeout",
    "activity_idle_timeout",
)
"""The fields of ``streaming.new``'s body, in the order they are sent."""

IDLE_TIMEOUT = (30, 3600)
"""The range of ``activity_idle_timeout`` (seconds)."""

NEW_SESSION_INFO: dict[str, str] = {
    "session_id": "str",
    "sdp": "sdp",
    "access_token": "str?",
    "url": "str?",
    "realtime_endpoint": "str?",
    "ice_servers": "ice",
    "ice_servers2": "ice",
    "is_paid": "bool?",
    "session_duration_limit": "int?",
}
"""The fields of ``streaming.new``'s ``data``, by kind: ``str`` (required), ``sdp`` (an
``{type, sdp}`` object or null), ``ice`` (a lenient ICE server list, `ice_server_list`),
and ``T?`` (a value of exactly that JSON type, or null)."""

ICE_CANDIDATE: dict[str, type] = {
    "candidate": str,
    "sdpMid": str,
    "sdpMLineIndex": int,
    "usernameFragment": str,
}
"""The fields of a browser-style candidate (``RTCIceCandidate.toJSON()``), by type."""


def is_member(value: Any, vocabulary: type[StrEnum]) -> bool:
    """``value`` is one of ``vocabulary``'s values as a ``str`` (or one of its members)."""
    return isinstance(value, str) and value in vocabulary.__members__.values()


def is_ice_server(item: Any) -> bool:
    """A dict with ``urls`` (a URL or a non-empty list) and optional string credentials."""
    if not isinstance(item, dict):
        return False
    urls = item.get("urls")
    urls_ok = isinstance(urls, str) or (
        isinstance(urls, list) and bool(urls) and all(isinstance(u, str) for u in urls)
    )
    return urls_ok and all(
        isinstance(item.get(key), str | None) for key in ("username", "credential")
    )


def ice_server_list(value: Any) -> Any:
    """Lenient ICE server lists: one bad entry must not fail the whole session.

    Captured 2024 bodies list bare URL strings; a lone string or object counts as a list of
    one; entries that are no ICE server are dropped with a warning naming them.
    """
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    servers = []
    for item in items:
        entry = {"urls": item} if isinstance(item, str) else item
        if is_ice_server(entry):
            servers.append(entry)
        elif item is not None:
            logger.warning("skipping an ICE server entry that is not one: %.200r", item)
    return servers
