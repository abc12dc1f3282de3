"""Checking the caller's arguments before any request: credentials, typed options, text.

Everything here raises `ConfigurationError` (a ``ValueError``) naming the argument, never
quoting a credential. The request bodies of ``streaming.new`` and ``streaming.task`` are
built here from explicit, typed parameters; wire fields the SDK does not model travel only
through ``extra_body``. Bodies of plain values (strings, the enums' values, ints in range)
are built by hand from the wire table (``wire``, ``enums``), so a session's connect loads
no pydantic; anything else goes through the request models, which read the same table and
give the same body or the error (tests/unit/test_plain_wire.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import APIError, ConfigurationError, NotFoundError, SessionStateError
from .aiortc_private import parse_ice_url
from .enums import Quality, TaskMode, TaskType, VideoEncoding
from .wire import ICE_CANDIDATE, IDLE_TIMEOUT, NEW_SESSION_REQUEST, is_member

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .models import VoiceSettings

__all__ = [
    "MAX_TEXT_LENGTH",
    "already_started",
    "already_stopped",
    "check_credential",
    "check_ice_servers",
    "check_text",
    "ice_body",
    "new_session_body",
    "session_body",
    "start_body",
    "task_body",
]

_M = TypeVar("_M", bound="BaseModel")

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
    from .models import IceServer

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
    from .models import VoiceSettings

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
    from pydantic import ValidationError

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
    avatar: str | None = None,
    voice: Any = None,
    quality: Any = None,
    video_encoding: Any = None,
    knowledge_base: str | None = None,
    disable_idle_timeout: bool | None = None,
    activity_idle_timeout: int | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``streaming.new`` JSON body, or `ConfigurationError` for a bad value."""
    _optional_str(avatar, "avatar")
    _optional_str(knowledge_base, "knowledge_base")
    if disable_idle_timeout is not None and not isinstance(disable_idle_timeout, bool):
        raise ConfigurationError("disable_idle_timeout must be a bool")
    if activity_idle_timeout is not None and (
        isinstance(activity_idle_timeout, bool) or not isinstance(activity_idle_timeout, int)
    ):
        low, high = IDLE_TIMEOUT
        raise ConfigurationError(f"activity_idle_timeout must be an int (seconds, {low}..{high})")
    fields = {
        "quality": quality,
        "avatar_name": avatar,
        "voice": voice,
        "video_encoding": video_encoding,
        "knowledge_base": knowledge_base,
        "disable_idle_timeout": disable_idle_timeout,
        "activity_idle_timeout": activity_idle_timeout,
    }
    body = _plain_new_body(fields)
    return _with_extra(_validated_new_body(fields) if body is None else body, extra_body)


def _validated_new_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The body through `NewSessionRequest`: any input, pydantic's errors."""
    from .models import NewSessionRequest

    request = _validated(NewSessionRequest, {**fields, "voice": _voice(fields["voice"])}, "")
    return request.to_json()


def _plain_new_body(fields: dict[str, Any]) -> dict[str, Any] | None:
    """The body `NewSessionRequest` would dump, for plainly valid values; else ``None``.

    The body's fields are in the table's order (`NEW_SESSION_REQUEST`), as the model sends.
    """
    quality, encoding = fields["quality"], fields["video_encoding"]
    voice, idle = fields["voice"], fields["activity_idle_timeout"]
    if (
        (quality is not None and not is_member(quality, Quality))
        or (encoding is not None and not is_member(encoding, VideoEncoding))
        or (voice is not None and not isinstance(voice, str))
        or (idle is not None and not IDLE_TIMEOUT[0] <= idle <= IDLE_TIMEOUT[1])
    ):
        return None
    body = {key: fields[key] for key in NEW_SESSION_REQUEST if fields.get(key) is not None}
    for key in ("quality", "video_encoding"):
        if key in body:
            body[key] = str(body[key])
    if voice is not None:
        body["voice"] = {"voice_id": voice}
    return body


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
    if (
        isinstance(session_id, str)
        and is_member(task_type, TaskType)
        and (task_mode is None or is_member(task_mode, TaskMode))
    ):
        body = {"session_id": session_id, "text": text, "task_type": str(task_type)}
        if task_mode is not None:
            body["task_mode"] = str(task_mode)
        return _with_extra(body, extra_body)
    from .models import TaskRequest

    request = _validated(
        TaskRequest,
        {"session_id": session_id, "text": text, "task_type": task_type, "task_mode": task_mode},
        "",
    )
    return _with_extra(request.to_json(), extra_body)


def start_body(session_id: str, answer_sdp: str) -> dict[str, Any] | None:
    """The ``streaming.start`` body for a plain answer SDP; ``None`` for anything else."""
    if not isinstance(session_id, str) or not isinstance(answer_sdp, str):
        return None
    return {"session_id": session_id, "sdp": {"type": "answer", "sdp": answer_sdp}}


def ice_body(session_id: str, candidate: Any) -> dict[str, Any] | None:
    """The ``streaming.ice`` body `IceRequest` would dump, for a plain browser-style dict.

    ``None`` (go through the models) for anything else: other keys, other types.
    """
    if (
        not isinstance(session_id, str)
        or type(candidate) is not dict
        or type(candidate.get("candidate", "")) is not str
        or not candidate.keys() <= ICE_CANDIDATE.keys()
    ):
        return None
    wire: dict[str, Any] = {"candidate": candidate.get("candidate", "")}
    for key, kind in ICE_CANDIDATE.items():
        if key == "candidate":
            continue
        value = candidate.get(key)
        if value is not None:
            if type(value) is not kind:
                return None
            wire[key] = value
    return {"session_id": session_id, "candidate": wire}


def session_body(session_id: str) -> dict[str, Any] | None:
    """``{"session_id": ...}`` (stop, interrupt, keep_alive) for a ``str``; else ``None``."""
    return {"session_id": session_id} if isinstance(session_id, str) else None


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
