"""Typed session events, their parsing from data-channel messages, and the bounded fan-out
behind `Session.events`: the shared `_media.events` hub, ending after `SessionEnded`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from .._media import events as _events

__all__ = [
    "ConnectionStateChanged",
    "EventHub",
    "EventStream",
    "MediaStarted",
    "ServerMessage",
    "SessionEnded",
    "SessionEvent",
    "TalkingStarted",
    "TalkingStopped",
    "parse_server_message",
]

_TALK_START = {"avatar_start_talking", "avatar_talking_start", "talking_started"}
_TALK_STOP = {"avatar_stop_talking", "avatar_talking_stop", "talking_stopped"}


@dataclass(frozen=True, kw_only=True)
class SessionEvent:
    """Base class of every event; ``at`` is the wall-clock time (``time.time()``)."""

    at: float = field(default_factory=time.time)


@dataclass(frozen=True, kw_only=True)
class ConnectionStateChanged(SessionEvent):
    """The peer connection changed state (aiortc's ``connectionState``)."""

    state: str
    previous: str | None = None


@dataclass(frozen=True, kw_only=True)
class MediaStarted(SessionEvent):
    """The first frame of a track arrived, ``elapsed`` seconds after the session started."""

    kind: str
    elapsed: float


@dataclass(frozen=True, kw_only=True)
class TalkingStarted(SessionEvent):
    """The server reported that the avatar started talking."""

    task_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TalkingStopped(SessionEvent):
    """The server reported that the avatar stopped talking.

    ``duration_ms`` is how long it talked, when the server says (HeyGen's event carries it).
    """

    task_id: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class ServerMessage(SessionEvent):
    """A data-channel message the SDK does not interpret (decoded JSON, or the raw text)."""

    data: Any


@dataclass(frozen=True, kw_only=True)
class SessionEnded(SessionEvent):
    """The session ended; always the last event.

    ``reason`` is ``"closed"`` for a normal close, else e.g. ``"watchdog"``,
    ``"connection_failed"``, ``"remote_closed"``, ``"connect_timeout"``; ``abnormal`` tells
    which.
    """

    reason: str
    abnormal: bool = False
    message: str = ""


class EventStream(_events.EventStream[SessionEvent]):
    """An async iterator of `SessionEvent`; ends quietly after `SessionEnded`.

    Bounded (drop-oldest, counted in `dropped`); the final `SessionEnded` is
    never dropped (it is the newest event, and nothing follows it).
    """


class EventHub(_events.EventHub[SessionEvent]):
    """Copies each emitted event to every subscriber; keeps a bounded history.

    A new subscriber first receives the history (the last ``history`` events, so a stream
    opened after connecting still sees the connection states and media start), then the
    live events, up to `SessionEnded`.
    """

    def __init__(self, history: int = 256) -> None:
        super().__init__(_is_final, history)

    def subscribe(self, capacity: int = 256) -> EventStream:
        """A new stream: the history so far, then live events, ending with SessionEnded."""
        stream = EventStream(self, capacity)
        self.attach(stream)
        return stream


def _is_final(event: SessionEvent) -> bool:
    return isinstance(event, SessionEnded)


def parse_server_message(message: Any) -> SessionEvent:
    """Map a data-channel message to an event.

    JSON objects whose ``type`` (or ``event``) is ``avatar_start_talking`` /
    ``avatar_stop_talking`` become `TalkingStarted` / `TalkingStopped` (with
    their ``task_id``, and ``duration_ms`` for a stop); anything else is a
    `ServerMessage`.
    """
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    data: Any
    try:
        data = json.loads(message)
    except (TypeError, ValueError):
        data = message
    kind = (data.get("type") or data.get("event")) if isinstance(data, dict) else None
    raw_id = data.get("task_id") if isinstance(data, dict) else None
    task_id = str(raw_id) if raw_id is not None else None
    if kind in _TALK_START:
        return TalkingStarted(task_id=task_id)
    if kind in _TALK_STOP:
        raw_ms = data.get("duration_ms") if isinstance(data, dict) else None
        duration_ms: float | None = None
        if isinstance(raw_ms, int | float) and not isinstance(raw_ms, bool):
            duration_ms = float(raw_ms)
        return TalkingStopped(task_id=task_id, duration_ms=duration_ms)
    return ServerMessage(data=data)
