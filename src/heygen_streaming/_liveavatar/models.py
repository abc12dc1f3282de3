"""LiveAvatar's answers as pydantic models (unknown fields kept, every field optional but ids).

The answers on a session's way (token, start, stop) are plain dataclasses of `.wire`, read
by hand: a connect loads no pydantic. These load on the first other call, not by
``import heygen_streaming``.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from .wire import SessionStop, SessionToken, StartedSession

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
