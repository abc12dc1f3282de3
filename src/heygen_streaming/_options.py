"""Checking the caller's arguments before any request: credentials, typed options, text.

Everything here raises `ConfigurationError` (a ``ValueError``) naming the argument, never
quoting a credential. The request bodies of ``streaming.new`` and ``streaming.task`` are
built here from explicit, typed parameters; wire fields the SDK does not model travel only
through ``extra_body``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from ._aiortc_private import parse_ice_url
from ._errors import APIError, ConfigurationError, NotFoundError, SessionStateError
from ._models import IceServer, NewSessionRequest, TaskRequest, VoiceSettings

__all__ = [
    "MAX_TEXT_LENGTH",
    "QualityName",
    "TaskModeName",
    "TaskTypeName",
    "VideoEncodingName",
    "already_started",
    "already_stopped",
    "check_credential",
    "check_ice_servers",
    "check_text",
    "new_session_body",
    "task_body",
]

_M = TypeVar("_M", bound=BaseModel)

QualityName = Literal["high", "medium", "low"]
TaskTypeName = Literal["repeat", "chat"]
TaskModeName = Literal["sync", "async"]
VideoEncodingName = Literal["H264", "VP8"]

MAX_TEXT_LENGTH = 10_000
"""Longest ``streaming.task`` text the SDK sends (HeyGen documents no limit; the emulator's)."""


def check_credential(value: str, what: str) -> str:
    """``value`` without surrounding whitespace (a CRLF ``.env`` file); else an error.

    The message names ``what`` (e.g. ``"the API key"``) and never the value.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a string, not {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise ConfigurationError(f"{what} is empty")
    if not stripped.isascii() or not stripped.isprintable() or any(c.isspace() for c in stripped):
        raise ConfigurationError(
            f"{what} contains non-ASCII, whitespace or control characters; it cannot be sent "
            "in an HTTP header (check how it was copied; the value is not shown)"
        )
    return stripped


def check_text(text: str) -> str:
    """``text`` if it can be sent as a ``streaming.task``: a non-blank string within the limit."""
    if not isinstance(text, str):
        raise ConfigurationError(f"text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ConfigurationError("text is empty: there is nothing to speak")
    if len(text) > MAX_TEXT_LENGTH:
        raise ConfigurationError(
            f"text is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH} "
            "(split it into several tasks)"
        )
    return text


def check_ice_servers(servers: Any) -> None:
    """``ice_servers=`` must be ``None`` or a list of `IceServer` (or dicts) aiortc can use.

    Messages name the entry by index and quote no credential.
    """
    if servers is None:
        return
    if isinstance(servers, str | bytes | Mapping) or not isinstance(servers, Sequence):
        raise ConfigurationError(
            f"ice_servers must be a list of IceServer or dicts, not {type(servers).__name__}"
        )
    for index, server in enumerate(servers):
        where = f"ice_servers[{index}]"
        if isinstance(server, IceServer):
            model = server
        elif isinstance(server, Mapping):
            model = _validated(IceServer, dict(server), where)
        else:
            raise ConfigurationError(f"{where} must be an IceServer or a dict")
        urls = [model.urls] if isinstance(model.urls, str) else list(model.urls)
        for url in urls:
            try:
                parse_ice_url(url)
            except (ValueError, TypeError, AttributeError):
                raise ConfigurationError(
                    f"{where}: not a stun:/turn:/turns: URL aiortc can use"
                ) from None


def _voice(voice: Any) -> VoiceSettings | None:
    if voice is None or isinstance(voice, VoiceSettings):
        return voice
    if isinstance(voice, str):
        return VoiceSettings(voice_id=voice)
    if isinstance(voice, Mapping):
        return _validated(VoiceSettings, dict(voice), "voice")
    raise ConfigurationError(
        f"voice must be a voice id (str) or VoiceSettings, not {type(voice).__name__}"
    )


def _validated(model: type[_M], data: dict[str, Any], where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in (where, *err['loc']) if p) or where}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(problems) from None


def _with_extra(body: dict[str, Any], extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    if extra_body is None:
        return body
    if not isinstance(extra_body, Mapping):
        raise ConfigurationError(f"extra_body must be a mapping, not {type(extra_body).__name__}")
    merged = {**body, **extra_body}
    try:
        json.dumps(merged)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"extra_body is not JSON-serializable: {exc}") from None
    return merged


def _optional_str(value: Any, name: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, not {type(value).__name__}")


def new_session_body(
    *,
    avatar: str | None,
    voice: Any,
    quality: Any,
    video_encoding: Any,
    knowledge_base: str | None,
    disable_idle_timeout: bool | None,
    activity_idle_timeout: int | None,
    extra_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``streaming.new`` JSON body, or `ConfigurationError` for a bad value."""
    _optional_str(avatar, "avatar")
    _optional_str(knowledge_base, "knowledge_base")
    if disable_idle_timeout is not None and not isinstance(disable_idle_timeout, bool):
        raise ConfigurationError("disable_idle_timeout must be a bool")
    if activity_idle_timeout is not None and (
        isinstance(activity_idle_timeout, bool) or not isinstance(activity_idle_timeout, int)
    ):
        raise ConfigurationError("activity_idle_timeout must be an int (seconds, 30..3600)")
    request = _validated(
        NewSessionRequest,
        {
            "quality": quality,
            "avatar_name": avatar,
            "voice": _voice(voice),
            "video_encoding": video_encoding,
            "knowledge_base": knowledge_base,
            "disable_idle_timeout": disable_idle_timeout,
            "activity_idle_timeout": activity_idle_timeout,
        },
        "",
    )
    return _with_extra(request.to_json(), extra_body)


def task_body(
    session_id: str,
    text: str,
    *,
    task_type: Any,
    task_mode: Any,
    extra_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``streaming.task`` JSON body, or `ConfigurationError` for a bad value."""
    check_text(text)
    request = _validated(
        TaskRequest,
        {"session_id": session_id, "text": text, "task_type": task_type, "task_mode": task_mode},
        "",
    )
    return _with_extra(request.to_json(), extra_body)


def already_started(error: APIError) -> bool:
    """A ``streaming.start`` refusal meaning an earlier attempt already started the session."""
    text = error.message.lower()
    return "already started" in text or (
        isinstance(error, SessionStateError) and ("connecting" in text or "connected" in text)
    )


def already_stopped(error: APIError) -> bool:
    """A ``streaming.stop`` refusal meaning the session is already gone (or going)."""
    text = error.message.lower()
    if isinstance(error, NotFoundError):
        return error.code is not None or "session" in text or "not found" in text
    return isinstance(error, SessionStateError) and ("closing" in text or "closed" in text)
