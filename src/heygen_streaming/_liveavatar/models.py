"""LiveAvatar's answers as pydantic models (unknown fields kept, every field optional but ids).

Tokens and URLs that carry them (``session_token``, ``livekit_*_token``, ``ws_url``) are
left out of every repr. Loaded on the first REST call, not by ``import heygen_streaming``.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "Avatar",
    "Credits",
    "SessionInfo",
    "SessionStop",
    "SessionToken",
    "StartedSession",
    "Transcript",
    "TranscriptEntry",
    "Voice",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class SessionToken(_Model):
    """``POST /v1/sessions/token``: the created session and the token that starts it."""

    session_id: str
    session_token: str = Field(repr=False)


class StartedSession(_Model):
    """``POST /v1/sessions/start``: where the session's room is, and the LITE socket.

    ``livekit_url`` and the tokens may be null for a LITE session in your own room; in
    LITE mode ``ws_url`` is the control socket (it carries a credential: never logged).
    """

    session_id: str
    livekit_url: str | None = None
    livekit_client_token: str | None = Field(default=None, repr=False)
    livekit_agent_token: str | None = Field(default=None, repr=False)
    max_session_duration: float | None = None
    ws_url: str | None = Field(default=None, repr=False)


class SessionStop(_Model):
    """``POST /v1/sessions/stop``: the stopped session and its stop reason, when told."""

    session_id: str | None = None
    stop_reason: str | None = None


class SessionInfo(_Model):
    """One session as ``GET /v1/sessions`` and ``GET /v1/sessions/{id}`` list it."""

    id: str = Field(validation_alias=AliasChoices("id", "session_id"))
    status: str | None = None
    mode: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    duration: float | None = None
    source: str | None = None
    is_sandbox: bool | None = None
    credits_consumed: float | None = None
    avatar_id: str | None = None
    stop_reason: str | None = None


class TranscriptEntry(_Model):
    """One line of a transcript: who (``avatar`` or ``user``) said what, and when."""

    role: str | None = None
    text: str = Field(default="", validation_alias=AliasChoices("transcript", "text"))
    absolute_timestamp: float | None = None
    relative_timestamp: float | None = None


class Transcript(_Model):
    """``GET /v1/sessions/{id}/transcript``."""

    session_active: bool | None = None
    entries: list[TranscriptEntry] = Field(
        default_factory=list, validation_alias=AliasChoices("transcript_data", "entries")
    )
    next_timestamp: float | None = None


class Avatar(_Model):
    """A public avatar (``GET /v1/avatars/public``)."""

    id: str
    name: str | None = None
    status: str | None = None
    default_voice: dict[str, Any] | None = None


class Voice(_Model):
    """A voice (``GET /v1/voices``)."""

    id: str
    name: str | None = None
    language: str | None = None
    gender: str | None = None


class Credits(_Model):
    """``GET /v1/users/credits``."""

    credits_left: float | None = None
    credits_used: float | None = None
