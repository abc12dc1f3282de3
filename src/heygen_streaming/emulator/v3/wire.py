"""v3 wire shapes: the ``{"data": ...}`` / ``{"error": {...}}`` envelopes and request bodies.

Error answers of ``/v3/avatar-realtime`` (codes marked * are inferred; see
docs/emulator-realtime.md):

=========================================  ======  ===========================
case                                       HTTP    ``error.code``
=========================================  ======  ===========================
no or unknown key / bearer token           401     ``unauthorized``
malformed JSON, missing or bad field       400     ``invalid_parameter`` *
(``param`` names the field)
append to a stream that is not text_stream 400     ``invalid_parameter`` *
inline audio not decodable, or beyond the  400     ``invalid_parameter`` *
limits (``max_audio_seconds``, decoded             (``param``: ``audio.data``)
bytes, frames)
audio URL while URLs are off, or on a      400     ``invalid_parameter`` *
host not allowed                                   (``param``: ``audio.url``)
unknown stream, or another key's stream    404     ``resource_not_found``
append after ``final`` or after the end    410     ``stream_closed`` *
more than N live streams for this key      429     ``rate_limit_exceeded``
                                                   (with ``Retry-After``)
body too large (> 1 MiB)                   413     ``payload_too_large`` *
unknown route / wrong method               404/405 ``not_found`` / ``method_not_allowed`` *
unexpected failure                         500     ``internal_error`` *
=========================================  ======  ===========================
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ..routes import EmulatorError

__all__ = [
    "DOC_URL",
    "AppendTextRequest",
    "AssetAudio",
    "AudioCreate",
    "Base64Audio",
    "CreateRequest",
    "TextCreate",
    "UrlAudio",
    "data_response",
    "error_body",
    "parse_append",
    "parse_create",
    "v3_error",
]

DOC_URL = "https://developers.heygen.com/docs/error-codes"
MAX_TEXT_LENGTH = 20_000


def v3_error(
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmulatorError:
    """An error answer rendered in the v3 envelope (`error_body`)."""
    extra = {"param": param} if param is not None else None
    return EmulatorError(status, code, message, headers=headers, extra=extra)


def error_body(err: EmulatorError) -> dict[str, Any]:
    """``{"error": {"code", "message", "param"?, "doc_url"}}``.

    Errors raised by the emulator's core carry the HTTP status as their code; they get a
    v3 code by status.
    """
    code = err.code if isinstance(err.code, str) else _CORE_CODES.get(err.status, "internal_error")
    error: dict[str, Any] = {"code": code, "message": err.message}
    if err.extra.get("param") is not None:
        error["param"] = err.extra["param"]
    error["doc_url"] = f"{DOC_URL}#{code.replace('_', '-')}"
    return {"error": error}


_CORE_CODES = {
    400: "invalid_parameter",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def invalid(message: str, param: str | None = None) -> EmulatorError:
    """A 400 ``invalid_parameter`` error."""
    return v3_error(400, "invalid_parameter", message, param=param)


def data_response(data: dict[str, Any], status: int = 200) -> web.Response:
    """A success answer ``{"data": ...}``."""
    return web.json_response({"data": data}, status=status)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")  # undocumented extras (e.g. "quality") are ignored


class TextCreate(_Body):
    """``tts`` and ``text_stream`` bodies."""

    type: Literal["tts", "text_stream"]
    avatar_id: Annotated[StrictStr, Field(min_length=1)]
    voice_id: Annotated[StrictStr, Field(min_length=1)]
    text: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]


class UrlAudio(_Body):
    """Audio fetched from a URL (only from the hosts `RealtimeOptions.audio_url_hosts` lists)."""

    type: Literal["url"]
    url: Annotated[StrictStr, Field(min_length=1)]


class AssetAudio(_Body):
    """A HeyGen asset (the emulator has none: the stream ends in ``error``)."""

    type: Literal["asset_id"]
    asset_id: Annotated[StrictStr, Field(min_length=1)]


class Base64Audio(_Body):
    """Inline audio, any container/codec PyAV can decode."""

    type: Literal["base64"]
    media_type: Annotated[StrictStr, Field(min_length=1)]
    data: Annotated[StrictStr, Field(min_length=1)]


class AudioCreate(_Body):
    """``audio`` body."""

    type: Literal["audio"]
    avatar_id: Annotated[StrictStr, Field(min_length=1)]
    audio: Annotated[UrlAudio | AssetAudio | Base64Audio, Field(discriminator="type")]


CreateRequest = TextCreate | AudioCreate


class AppendTextRequest(_Body):
    """``POST /{stream_id}/text`` body."""

    delta: StrictStr
    final: StrictBool = False


def _validate(model: type[Any], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if len(loc) >= 3 and loc[0] == "audio":  # drop the union tag: audio.base64.data
            del loc[1]
        param = ".".join(loc) or None
        raise invalid(f"{param or 'body'}: {first['msg']}", param) from None


def parse_create(body: dict[str, Any]) -> CreateRequest:
    """Validate a create body by its ``type``; raise a 400 naming the bad field."""
    kind = body.get("type")
    if kind is None:
        raise invalid("type: Field required", "type")
    if kind in ("tts", "text_stream"):
        request: TextCreate = _validate(TextCreate, body)
        if kind == "tts" and not request.text.strip():
            raise invalid("text: must not be blank", "text")
        return request
    if kind == "audio":
        audio = body.get("audio")
        if isinstance(audio, dict) and audio.get("type") not in ("url", "asset_id", "base64"):
            raise invalid("audio.type: must be one of 'url', 'asset_id', 'base64'", "audio.type")
        parsed: AudioCreate = _validate(AudioCreate, body)
        return parsed
    raise invalid("type: must be one of 'tts', 'audio', 'text_stream'", "type")


def parse_append(body: dict[str, Any]) -> AppendTextRequest:
    """Validate an append body (``delta`` may be empty only with ``final: true``)."""
    request: AppendTextRequest = _validate(AppendTextRequest, body)
    if not request.delta and not request.final:
        raise invalid("delta: must be non-empty unless final is true", "delta")
    if len(request.delta) > MAX_TEXT_LENGTH:
        raise invalid(f"delta: longer than {MAX_TEXT_LENGTH} characters", "delta")
    return request
