"""The answers on a session's way (``/token``, ``/start``, ``/stop``), read by hand.

A connect must not wait for pydantic (about 70 ms to import in a fresh process): these
three answers are small, flat and read field by field here; unknown fields are ignored.
Tokens and the LITE socket URL (it carries a credential) stay out of every repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import ResponseValidationError

__all__ = [
    "SessionStop",
    "SessionToken",
    "StartedSession",
    "read_started",
    "read_stop",
    "read_token",
]


@dataclass(frozen=True, slots=True)
class SessionToken:
    """``POST /v1/sessions/token``: the created session and the token that starts it."""

    session_id: str
    session_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StartedSession:
    """``POST /v1/sessions/start``: where the session's room is, and the LITE socket.

    ``livekit_url`` and the tokens may be null for a LITE session in your own room; in
    LITE mode ``ws_url`` is the control socket (it carries a credential: never logged).
    """

    session_id: str
    livekit_url: str | None = None
    livekit_client_token: str | None = field(default=None, repr=False)
    livekit_agent_token: str | None = field(default=None, repr=False)
    max_session_duration: float | None = None
    ws_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SessionStop:
    """``POST /v1/sessions/stop``: the stopped session and its stop reason, when told."""

    session_id: str | None = None
    stop_reason: str | None = None


def _object(data: Any, endpoint: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ResponseValidationError("expected an object in data", endpoint=endpoint)
    return data


def _text(data: dict[str, Any], name: str, endpoint: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 65536:
        raise ResponseValidationError(f"{name} is not a non-empty string", endpoint=endpoint)
    return value


def read_token(data: Any) -> SessionToken:
    """The ``/token`` answer's data."""
    body = _object(data, "sessions.token")
    sid = _text(body, "session_id", "sessions.token", required=True)
    token = _text(body, "session_token", "sessions.token", required=True)
    assert sid is not None and token is not None
    return SessionToken(sid, token)


def read_started(data: Any) -> StartedSession:
    """The ``/start`` answer's data."""
    ep = "sessions.start"
    body = _object(data, ep)
    limit = body.get("max_session_duration")
    if isinstance(limit, bool) or not isinstance(limit, int | float | type(None)):
        raise ResponseValidationError("max_session_duration is not a number", endpoint=ep)
    sid = _text(body, "session_id", ep, required=True)
    assert sid is not None
    return StartedSession(
        session_id=sid,
        livekit_url=_text(body, "livekit_url", ep),
        livekit_client_token=_text(body, "livekit_client_token", ep),
        livekit_agent_token=_text(body, "livekit_agent_token", ep),
        max_session_duration=None if limit is None else float(limit),
        ws_url=_text(body, "ws_url", ep),
    )


def read_stop(data: Any) -> SessionStop:
    """The ``/stop`` answer's data (anything not an object: nothing said)."""
    if not isinstance(data, dict):
        return SessionStop()
    sid, reason = data.get("session_id"), data.get("stop_reason")
    return SessionStop(
        sid if isinstance(sid, str) else None, reason if isinstance(reason, str) else None
    )
