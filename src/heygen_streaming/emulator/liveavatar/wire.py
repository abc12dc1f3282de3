"""LiveAvatar's wire shapes: the envelope, error bodies and the token request schema.

Success is ``{"code": 1000, "data": ..., "message": "success"}``: the published examples
show ``code: 100`` (an OpenAPI field default), but the official web SDK rejects anything but
1000 and logs of the live service show 1000, so the emulator answers 1000. Request
validation errors are FastAPI's 422 ``{"detail": [{"type", "loc", "msg"}]}``; other errors
``{"code": <HTTP status>, "data": null, "message"}`` (the web SDK reads ``message``).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from ..routes import EmulatorError

__all__ = [
    "SUCCESS_CODE",
    "AvatarPersona",
    "StopRequest",
    "TokenRequest",
    "VideoSettings",
    "VoiceAgent",
    "envelope",
    "error_body",
    "int_query",
    "la_error",
    "page",
    "query_error",
    "unprocessable",
    "validate",
]

SUCCESS_CODE = 1000
MAX_DYNAMIC_VARIABLES = 50
MAX_VARIABLE_KEY = 64
MAX_VARIABLE_VALUE = 1000
_ECHO_LIMIT = 100

Scalar = str | int | float | bool
M = TypeVar("M", bound=BaseModel)


def envelope(data: Any, message: str = "success") -> dict[str, Any]:
    """A success body."""
    return {"code": SUCCESS_CODE, "data": data, "message": message}


def la_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> EmulatorError:
    """An error answer whose body code is the HTTP status."""
    return EmulatorError(status, status, message, headers=headers)


def unprocessable(detail: list[dict[str, Any]]) -> EmulatorError:
    """A FastAPI-style 422 with ``detail`` entries."""
    return EmulatorError(422, 422, "Validation Error", extra={"detail": detail})


def error_body(err: EmulatorError) -> dict[str, Any]:
    """The JSON body of an error (see the module docstring)."""
    detail = err.extra.get("detail")
    if isinstance(detail, list):
        return {"detail": detail}
    return {"code": err.code, "data": None, "message": err.message}


def _dynamic_variables(value: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
    if value is None:
        return None
    if len(value) > MAX_DYNAMIC_VARIABLES:
        raise ValueError(f"at most {MAX_DYNAMIC_VARIABLES} dynamic variables are allowed")
    for key, item in value.items():
        if not key or len(key) > MAX_VARIABLE_KEY:
            raise ValueError(f"dynamic variable names must be 1-{MAX_VARIABLE_KEY} characters")
        if len(str(item)) > MAX_VARIABLE_VALUE:
            raise ValueError(
                f"dynamic variable {key[:MAX_VARIABLE_KEY]!r} is longer than "
                f"{MAX_VARIABLE_VALUE} characters"
            )
    return value


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class VideoSettings(_Open):
    """``video_settings``: picture quality and codec."""

    quality: Literal["low", "medium", "high", "very_high"] = "high"
    encoding: Literal["H264", "VP8"] = "H264"


class VoiceSettings(_Open):
    """``avatar_persona.voice_settings`` (only ``speed`` changes the emulator's voice)."""

    provider: str | None = None
    speed: float | None = Field(default=None, ge=0.5, le=2.0)


class AvatarPersona(_Open):
    """``avatar_persona`` (deprecated by the service, still accepted)."""

    voice_id: str | None = None
    context_id: str | None = None
    language: str = "en"
    voice_settings: VoiceSettings | None = None
    stt_config: dict[str, Any] | None = None


class VoiceAgent(_Open):
    """``voice_agent``: the persona's successor."""

    id: str = Field(min_length=1)
    language: str | None = None
    dynamic_variables: dict[str, Scalar] | None = None

    _limits = field_validator("dynamic_variables")(_dynamic_variables)


class Memory(_Open):
    """``memory``: continue an earlier conversation (accepted, not used offline)."""

    prev_session_id: str | None = None
    session_memory_id: str | None = None


class TokenRequest(_Open):
    """``POST /v1/sessions/token`` body. Unknown fields are ignored."""

    avatar_id: uuid.UUID
    mode: Literal["FULL", "LITE", "CUSTOM"] = "FULL"
    is_sandbox: bool = False
    video_settings: VideoSettings | None = None
    max_session_duration: int | None = Field(default=None, gt=0)
    avatar_persona: AvatarPersona | None = None
    voice_agent: VoiceAgent | None = None
    interactivity_type: Literal["CONVERSATIONAL", "PUSH_TO_TALK"] = "CONVERSATIONAL"
    llm_configuration_id: str | None = None
    dynamic_variables: dict[str, Scalar] | None = None
    memory: Memory | None = None
    livekit_config: dict[str, Any] | None = None

    _limits = field_validator("dynamic_variables")(_dynamic_variables)

    @_model_validator(mode="after")
    def _persona_xor_agent(self) -> TokenRequest:
        if self.avatar_persona is not None and self.voice_agent is not None:
            raise ValueError("avatar_persona and voice_agent are mutually exclusive")
        if self.session_mode == "FULL" and self.avatar_persona is None and self.voice_agent is None:
            raise ValueError("FULL mode needs exactly one of avatar_persona or voice_agent")
        return self

    @property
    def session_mode(self) -> Literal["FULL", "LITE"]:
        """``FULL`` or ``LITE`` (``CUSTOM``, the older name, is LITE)."""
        return "FULL" if self.mode == "FULL" else "LITE"


class StopRequest(_Open):
    """``POST /v1/sessions/stop`` body (optional with a session token)."""

    session_id: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str | None = None


def _echo(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= _ECHO_LIMIT


def validate(model: type[M], body: dict[str, Any]) -> M:
    """``model`` from ``body``, else a 422 in FastAPI's shape (locations under ``body``)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        detail = []
        for error in exc.errors(include_url=False):
            entry: dict[str, Any] = {
                "type": error["type"],
                "loc": ["body", *error["loc"]],
                "msg": error["msg"],
            }
            if _echo(error.get("input")):
                entry["input"] = error.get("input")
            detail.append(entry)
        raise unprocessable(detail) from None


# -- query parameters (FastAPI's 422 for them too) ----------------------------------------
def int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise unprocessable([query_error(name, "missing", "Field required")])
        return default
    try:
        value = int(raw)
    except ValueError:
        raise unprocessable(
            [query_error(name, "int_parsing", "Input should be a valid integer", raw)]
        ) from None
    if not lo <= value <= hi:
        kind, msg = (
            ("greater_than_equal", f"Input should be greater than or equal to {lo}")
            if value < lo
            else ("less_than_equal", f"Input should be less than or equal to {hi}")
        )
        raise unprocessable([query_error(name, kind, msg, raw)])
    return value


def query_error(name: str, kind: str, msg: str, value: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "loc": ["query", name], "msg": msg}
    if value is not None:
        entry["input"] = value[:100]
    return entry


def page(request: web.Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{count, results, next, previous}`` for ``?page=&page_size=`` (1-based, <= 100)."""
    number = int_query(request, "page", 1, 1, 1_000_000)
    size = int_query(request, "page_size", 20, 1, 100)
    start = (number - 1) * size

    def link(number: int) -> str:
        return str(request.rel_url.update_query(page=number, page_size=size))

    return {
        "count": len(items),
        "results": items[start : start + size],
        "next": link(number + 1) if start + size < len(items) else None,
        "previous": link(number - 1) if number > 1 and items else None,
    }
