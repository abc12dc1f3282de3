"""Pydantic models of HeyGen's Avatar Realtime API (``/v3/avatar-realtime``).

Responses accept unknown fields and the published guide's variants when reading: a status
of ``"ready"`` is read as ``"streaming"`` and a ``url`` field as ``hls_url`` (the generated
API reference, which requests follow, says ``streaming`` and ``hls_url``).
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import ConfigurationError

__all__ = [
    "SESSION_NAMES",
    "WIRE_NAMES",
    "RealtimeAppendResult",
    "RealtimeCancelResult",
    "RealtimeCreated",
    "RealtimeInfo",
    "RealtimeStatus",
    "RealtimeType",
    "Word",
    "WordBatch",
    "audio_source",
    "create_body",
]

RealtimeType = Literal["tts", "audio", "text_stream"]
"""``tts`` speaks a fixed script, ``audio`` lip-syncs audio, ``text_stream`` takes text deltas."""

RealtimeStatus = Literal["pending", "streaming", "completed", "error"]
"""Server-side status of a realtime stream."""

REALTIME_TYPES: tuple[str, ...] = ("tts", "audio", "text_stream")
_STATUS_ALIASES = {"ready": "streaming", "failed": "error", "cancelled": "completed"}


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class RealtimeCreated(_Response):
    """``POST /v3/avatar-realtime`` data: the new stream's id."""

    stream_id: str


class RealtimeInfo(_Response):
    """``GET /v3/avatar-realtime/{stream_id}`` data.

    Attributes:
        stream_id: the stream's id.
        status: ``pending``, ``streaming`` (``hls_url`` is live), ``completed`` or ``error``.
        hls_url: the HLS playlist URL (self-authorising); present while streaming.
        end_reason: how a completed stream ended (e.g. ``final_marker``, ``idle_timeout``).
        error_message: why a stream is in ``error``.
    """

    stream_id: str | None = None
    status: RealtimeStatus
    hls_url: str | None = Field(default=None, repr=False)  # self-authorising: not in reprs
    end_reason: str | None = None
    error_message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _guide_variants(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        data = dict(value)
        status = data.get("status")
        if isinstance(status, str):
            lowered = status.strip().lower()
            data["status"] = _STATUS_ALIASES.get(lowered, lowered)
        if not data.get("hls_url") and isinstance(data.get("url"), str):
            data["hls_url"] = data["url"]
        return data

    @property
    def terminal(self) -> bool:
        """True for ``completed`` and ``error``."""
        return self.status in ("completed", "error")


class RealtimeAppendResult(_Response):
    """``POST /v3/avatar-realtime/{stream_id}/text`` data."""

    buffered_bytes: int | None = None
    ok: bool = True


class RealtimeCancelResult(_Response):
    """``POST /v3/avatar-realtime/{stream_id}/cancel`` data.

    ``cancelled`` is False when the stream was already terminal (cancel is idempotent).
    """

    stream_id: str | None = None
    cancelled: bool = False


class Word(_Response):
    """One spoken word (punctuation is a word of its own); times in seconds of streamed audio."""

    word: str
    start: float
    end: float


class WordBatch(_Response):
    """One SSE ``data:`` frame of the word-timestamp stream."""

    words: list[Word] = Field(default_factory=list)


# -- request bodies ----------------------------------------------------------------------


WIRE_NAMES: Mapping[str, str] = {
    "type": "type",
    "avatar_id": "avatar_id",
    "voice_id": "voice_id",
    "text": "text",
    "audio": "audio",
}
"""The create body's fields as `create_realtime` takes them (the wire's names)."""

SESSION_NAMES: Mapping[str, str] = {
    "type": "mode",
    "avatar_id": "avatar",
    "voice_id": "voice",
    "text": "text",
    "audio": "audio",
}
"""The same fields as ``client.realtime()`` takes them: its errors use these names."""


def create_body(
    type: str,
    *,
    avatar_id: str | None,
    voice_id: str | None,
    text: str | None,
    audio: Mapping[str, Any] | None,
    names: Mapping[str, str] = WIRE_NAMES,
) -> dict[str, Any]:
    """The create body for ``type``, validated before any request (`ConfigurationError`).

    Messages name each field as ``names`` says: the caller's names (`SESSION_NAMES` for
    ``client.realtime()``), not necessarily the wire's.
    """
    kind = names["type"]
    if type not in REALTIME_TYPES:
        raise ConfigurationError(f"{kind} must be one of {', '.join(REALTIME_TYPES)}; got {type!r}")

    def required(value: str | None, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{kind}={type!r} needs a non-empty {names[field]}")
        return value

    body: dict[str, Any] = {"type": type, "avatar_id": required(avatar_id, "avatar_id")}
    if type == "audio":
        if audio is None:
            raise ConfigurationError(
                f"{kind}='audio' needs {names['audio']}= (a URL, a file, bytes or a dict)"
            )
        for field, value in (("voice_id", voice_id), ("text", text)):
            if value is not None:
                raise ConfigurationError(f"{names[field]} is not used with {kind}='audio'")
        body["audio"] = dict(audio)
        return body
    if audio is not None:
        raise ConfigurationError(
            f"{names['audio']}= is only used with {kind}='audio', not {type!r}"
        )
    body["voice_id"] = required(voice_id, "voice_id")
    body["text"] = required(text, "text")
    return body


def audio_source(
    audio: str | os.PathLike[str] | bytes | Mapping[str, Any],
    *,
    media_type: str | None = None,
) -> dict[str, Any]:
    """The ``audio`` asset of a ``type="audio"`` stream.

    An ``http(s)://`` URL becomes ``{"type": "url", "url"}``; bytes or a file path become
    ``{"type": "base64", "media_type", "data"}`` (the media type guessed from the file name,
    else ``audio/mpeg``); a mapping (e.g. ``{"type": "asset_id", "asset_id": ...}``) is sent
    as is. Reading a file blocks: call this off the event loop for large files.
    """
    if isinstance(audio, Mapping):
        if "type" not in audio:
            raise ConfigurationError("an audio mapping needs a 'type' (url, asset_id, base64)")
        return dict(audio)
    if isinstance(audio, bytes | bytearray):
        if not audio:
            raise ConfigurationError("audio bytes are empty")
        data = bytes(audio)
        kind = media_type or "audio/mpeg"
    elif isinstance(audio, str) and audio.startswith(("http://", "https://")):
        return {"type": "url", "url": audio}
    else:
        path = Path(audio)
        if not path.is_file():
            raise ConfigurationError(f"audio file not found: {str(path)!r}")
        data = path.read_bytes()
        kind = media_type or mimetypes.guess_type(path.name)[0] or "audio/mpeg"
    return {"type": "base64", "media_type": kind, "data": base64.b64encode(data).decode("ascii")}
