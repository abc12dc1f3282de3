"""The options of a LiveAvatar session, checked before any request, and the token body.

``POST /v1/sessions/token`` takes ``avatar_id`` (a uuid), ``mode`` (``FULL`` / ``LITE``),
``is_sandbox``, ``video_settings{quality, encoding}``, ``max_session_duration`` and, in
FULL mode, exactly one of ``avatar_persona{voice_id, context_id, language}`` and
``voice_agent`` (a flat ``voice_id`` is a 422). Anything else goes in ``extra_body``,
merged last (a ``voice_agent`` there replaces the persona).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from .._errors import ConfigurationError

__all__ = [
    "QUALITIES",
    "LiveAvatarMode",
    "ModeName",
    "QualityName",
    "check_mode",
    "token_body",
]

ModeName = Literal["full", "lite"]
QualityName = Literal["low", "medium", "high", "very_high"]
QUALITIES: tuple[str, ...] = ("low", "medium", "high", "very_high")


class LiveAvatarMode(enum.StrEnum):
    """A session's mode: the service speaks text (``full``) or lip-syncs your audio (``lite``)."""

    FULL = "full"
    """The service's voice, LLM and listening; commands and events on the room's data topics."""
    LITE = "lite"
    """Your own audio (PCM 24 kHz), sent on a control socket; the avatar lip-syncs it."""


def check_mode(mode: Any) -> LiveAvatarMode:
    """``mode`` as a `LiveAvatarMode` (any case; ``custom``, the older name of LITE, too)."""
    if isinstance(mode, str):
        text = mode.strip().lower()
        if text == "custom":
            return LiveAvatarMode.LITE
        if text in ("full", "lite"):
            return LiveAvatarMode(text)
    raise ConfigurationError(f"mode must be 'full' or 'lite', not {mode!r}")


def _text(name: str, value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
    if len(value) > 1000 or not value.isprintable():
        raise ConfigurationError(f"{name} must be printable and at most 1000 characters")
    return value.strip()


def token_body(
    *,
    avatar_id: Any,
    mode: Any = "full",
    voice_id: Any = None,
    context_id: Any = None,
    language: Any = "en",
    quality: Any = "high",
    is_sandbox: Any = False,
    max_session_duration: Any = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``/v1/sessions/token`` body, or `ConfigurationError` naming the bad option."""
    avatar = _text("avatar_id", avatar_id, required=True)
    assert avatar is not None
    try:
        uuid.UUID(avatar)
    except ValueError:
        raise ConfigurationError(
            "avatar_id must be a LiveAvatar avatar id (a UUID); list them with "
            "`await client.list_avatars()`"
        ) from None
    chosen = check_mode(mode)
    if quality not in QUALITIES:
        raise ConfigurationError(f"quality must be one of {', '.join(QUALITIES)}, not {quality!r}")
    if not isinstance(is_sandbox, bool):
        raise ConfigurationError("is_sandbox must be True or False")
    if max_session_duration is not None and (
        isinstance(max_session_duration, bool)
        or not isinstance(max_session_duration, int)
        or max_session_duration <= 0
    ):
        raise ConfigurationError("max_session_duration must be a positive whole number of seconds")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise ConfigurationError("extra_body must be a mapping")
    body: dict[str, Any] = {
        "avatar_id": avatar,
        "mode": chosen.value.upper(),
        "is_sandbox": is_sandbox,
        "video_settings": {"quality": quality, "encoding": "H264"},
    }
    if max_session_duration is not None:
        body["max_session_duration"] = max_session_duration
    persona: dict[str, Any] = {"language": _text("language", language, required=True)}
    for name, value in (("voice_id", voice_id), ("context_id", context_id)):
        checked = _text(name, value)
        if checked is not None:
            persona[name] = checked
    if chosen is LiveAvatarMode.FULL or len(persona) > 1:
        body["avatar_persona"] = persona
    extra = dict(extra_body or {})
    if "voice_agent" in extra:
        body.pop("avatar_persona", None)
    body.update(extra)
    return body


def token_mode(token: str) -> LiveAvatarMode | None:
    """The mode a session token was made for (its ``start_session_data`` claim, as the web
    SDK reads it), or None when the token does not say. The token is not verified: this
    only picks how to drive the session; the service checks the token."""
    import base64
    import json

    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16384:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        mode = claims["start_session_data"]["mode"]
        return check_mode(mode)
    except (ValueError, KeyError, TypeError, RecursionError, ConfigurationError):
        return None
