"""LiveAvatar's server events, typed: read from the FULL data topic and the LITE socket.

=====================================  ===================================================
wire (FULL ``agent-response`` / LITE)  event
=====================================  ===================================================
``avatar.speak_started`` /             `SpeakStarted` (``speech_id``: the command's id,
``agent.speak_started``                FULL ``source_event_id``, LITE ``event_id``)
``avatar.speak_ended`` /               `SpeakEnded`
``agent.speak_ended``
``agent.speak_interrupted``            `Interrupted`
``avatar.transcription[.chunk]``,      `Transcription` (``role`` avatar/user, ``final``
``user.transcription[.chunk]``         False for a chunk)
``user.speak_started`` / ``_ended``    `UserSpeaking` (``speaking`` True/False)
``agent.state_updated``                `AgentState` (idle, listening, talking)
``session.state_updated``              `StateChanged` (connecting, connected, closing...)
``error`` / ``warning`` (LITE)         `ServerError`
``session.stopped``                    ends the session: `SessionEnded` (always last)
anything else                          `RawEvent` (``type`` and the decoded ``data``)
=====================================  ===================================================

Every event keeps the decoded message as ``data`` (not in its repr). The session's hub
(`event_hub`, the shared ``_media.events``) hands each to every `EventStream` (bounded,
drop-oldest), after the history so far.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import sanitize
from .._media import events as _events
from .._media.events import EventStream
from .state import LiveAvatarEndReason

__all__ = [
    "MAX_EVENT_BYTES",
    "AgentState",
    "EventStream",
    "Interrupted",
    "LiveAvatarEvent",
    "RawEvent",
    "ServerError",
    "SessionEnded",
    "SpeakEnded",
    "SpeakStarted",
    "StateChanged",
    "Transcription",
    "UserSpeaking",
    "event_hub",
    "parse_full",
    "parse_lite",
]

MAX_EVENT_BYTES = 1 << 20
"""Messages larger than this are not decoded (a `RawEvent` of type ``oversized``)."""
MAX_TEXT = 100_000


@dataclass(frozen=True, kw_only=True)
class LiveAvatarEvent:
    """Base of every LiveAvatar event.

    Attributes:
        type: the wire type (``"avatar.speak_started"``, ...; ``"session.ended"`` for
            `SessionEnded`).
        event_id: the event's own id, when it has one.
        data: the decoded message (a dict; empty for events the SDK makes).
    """

    type: str
    event_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class SpeakStarted(LiveAvatarEvent):
    """The avatar started speaking ``speech_id`` (the id `speak` & co. returned)."""

    speech_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SpeakEnded(LiveAvatarEvent):
    """The avatar finished speaking ``speech_id`` (FULL: also after an interrupt)."""

    speech_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Interrupted(LiveAvatarEvent):
    """Speech ``speech_id`` was cut by an interrupt (LITE)."""

    speech_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Transcription(LiveAvatarEvent):
    """What the avatar said or heard: ``role`` ``"avatar"`` or ``"user"``; ``final`` is
    False for a partial chunk."""

    role: Literal["avatar", "user"]
    text: str
    final: bool = True
    speech_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserSpeaking(LiveAvatarEvent):
    """The user started (``speaking=True``) or stopped speaking (FULL, the microphone)."""

    speaking: bool


@dataclass(frozen=True, kw_only=True)
class AgentState(LiveAvatarEvent):
    """The agent's state changed (``idle``, ``listening``, ``talking``)."""

    state: str
    previous: str | None = None


@dataclass(frozen=True, kw_only=True)
class StateChanged(LiveAvatarEvent):
    """The service's session state changed (``connecting``, ``connected``, ``closing``, ...)."""

    state: str


@dataclass(frozen=True, kw_only=True)
class ServerError(LiveAvatarEvent):
    """An ``error`` (or, ``warning=True``, a ``warning``) the service sent about a command."""

    code: str | None = None
    message: str = ""
    warning: bool = False
    source_event_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SessionEnded(LiveAvatarEvent):
    """The session ended (always the last event): ``reason`` and a message; ``abnormal``
    unless the program closed it."""

    type: str = "session.ended"
    reason: LiveAvatarEndReason
    message: str = ""
    abnormal: bool = False


@dataclass(frozen=True, kw_only=True)
class RawEvent(LiveAvatarEvent):
    """An event the SDK has no type for, passed through."""


# -- parsing -----------------------------------------------------------------------------


def _str(value: Any, limit: int = 256) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _decode(message: str | bytes) -> dict[str, Any] | None:
    if len(message) > MAX_EVENT_BYTES:
        return None
    try:
        data = json.loads(message)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _task(data: dict[str, Any]) -> str | None:
    task = data.get("task")
    return _str(task.get("id")) if isinstance(task, dict) else _str(data.get("task_id"))


def _text(data: dict[str, Any]) -> str:
    text = data.get("text")
    return text[:MAX_TEXT] if isinstance(text, str) else ""


def _common(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"type": kind, "event_id": _str(data.get("event_id")), "data": data}


def _malformed(message: str | bytes) -> RawEvent:
    kind = "oversized" if len(message) > MAX_EVENT_BYTES else "malformed"
    return RawEvent(type=kind)


def _shared(kind: str, data: dict[str, Any], speech_id: str | None) -> LiveAvatarEvent | None:
    """The events both modes send under the same meaning."""
    base = _common(data, kind)
    if kind.endswith(".speak_started") and kind.startswith(("avatar.", "agent.")):
        return SpeakStarted(**base, speech_id=speech_id, task_id=_task(data))
    if kind.endswith(".speak_ended") and kind.startswith(("avatar.", "agent.")):
        return SpeakEnded(**base, speech_id=speech_id, task_id=_task(data))
    if kind == "session.state_updated":
        return StateChanged(**base, state=_str(data.get("state"), 64) or "unknown")
    if kind in ("user.speak_started", "user.speak_ended"):
        return UserSpeaking(**base, speaking=kind == "user.speak_started")
    for role in ("avatar", "user"):
        if kind in (f"{role}.transcription", f"{role}.transcription.chunk"):
            final = not kind.endswith(".chunk")
            return Transcription(
                **base, role=role, text=_text(data), final=final, speech_id=speech_id
            )
    return None


def parse_full(payload: bytes) -> LiveAvatarEvent:
    """One ``agent-response`` data packet as an event (`RawEvent` when unknown or bad)."""
    data = _decode(payload)
    if data is None:
        return _malformed(payload)
    kind = _str(data.get("event_type"), 128) or "unknown"
    event = _shared(kind, data, _str(data.get("source_event_id")))
    return event if event is not None else RawEvent(**_common(data, kind))


def parse_lite(message: str | bytes) -> LiveAvatarEvent:
    """One LITE socket message as an event (`RawEvent` when unknown or bad)."""
    data = _decode(message)
    if data is None:
        return _malformed(message)
    kind = _str(data.get("type"), 128) or "unknown"
    base = _common(data, kind)
    if kind == "agent.speak_interrupted":
        return Interrupted(**base, speech_id=_str(data.get("event_id")), task_id=_task(data))
    if kind == "agent.state_updated":
        state = _str(data.get("new_state"), 64) or "unknown"
        return AgentState(**base, state=state, previous=_str(data.get("previous_state"), 64))
    if kind in ("error", "warning"):
        return ServerError(
            **base,
            code=_str(data.get("code"), 64),
            message=sanitize(str(data.get("message") or ""), limit=500),
            warning=kind == "warning",
            source_event_id=_str(data.get("source_event_id")),
        )
    event = _shared(kind, data, _str(data.get("event_id")))
    return event if event is not None else RawEvent(**base)


# -- delivery ---------------------------------------------------------------------------


def event_hub() -> _events.EventHub[LiveAvatarEvent]:
    """The hub of one session's events: `SessionEnded` is the last."""
    return _events.EventHub(lambda event: isinstance(event, SessionEnded))
