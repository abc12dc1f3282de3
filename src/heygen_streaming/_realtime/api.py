"""Avatar Realtime (``/v3/avatar-realtime``) calls: `RealtimeAPI`, owned by `StreamingClient`.

Envelopes: success is ``{"data": ...}``; an error is ``{"error": {"code", "message",
"param", "doc_url"}}`` mapped onto the package's exceptions by HTTP status (``code`` is
the string code, ``param`` and ``doc_url`` are kept). Only idempotent calls are retried
(get, cancel, opening the word stream); create and append never are once the request may
have reached the service (they bill or repeat speech).

The v3 models, decoders and SSE parser load on the first v3 call: a v1-only program (and
every program's start-up) does not pay for them.
"""

# ``timeout=`` below is the per-call deadline of the public API, not an asyncio timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from .._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    ResponseValidationError,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .._http.transport import Transport
    from .models import (
        RealtimeAppendResult,
        RealtimeCancelResult,
        RealtimeCreated,
        RealtimeInfo,
        RealtimeType,
        WordBatch,
    )

__all__ = ["PATH", "AudioInput", "RealtimeAPI"]

PATH = "/v3/avatar-realtime"

AudioInput = str | os.PathLike[str] | bytes | Mapping[str, Any]
"""An ``audio`` source: an ``http(s)`` URL, a file path, bytes or an asset mapping."""

_M = TypeVar("_M", bound="BaseModel")


def _stream_path(stream_id: str, suffix: str = "") -> str:
    if not isinstance(stream_id, str) or not stream_id.strip():
        raise ConfigurationError("stream_id must be a non-empty string")
    return f"{PATH}/{quote(stream_id, safe='')}{suffix}"


class RealtimeAPI:
    """The Avatar Realtime (v3) endpoints, sent through the client's `Transport`."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create_realtime(
        self,
        type: RealtimeType = "text_stream",
        *,
        avatar_id: str,
        voice_id: str | None = None,
        text: str | None = None,
        audio: AudioInput | None = None,
        timeout: float | None = None,
    ) -> RealtimeCreated:
        """``POST /v3/avatar-realtime``: start a stream (billed per second until it ends).

        ``tts`` and ``text_stream`` need ``voice_id`` and ``text`` (for ``text_stream``,
        the first words; append more with `append_realtime_text`); ``audio`` needs
        ``audio``: an ``http(s)`` URL, a file path, bytes, or an asset mapping such as
        ``{"type": "asset_id", "asset_id": "..."}``. Arguments are checked before any
        request (`ConfigurationError`). Never retried once the request may have arrived.
        """
        from .models import RealtimeCreated, audio_source, create_body

        asset: Mapping[str, Any] | None = None
        if audio is not None:
            asset = (
                audio_source(audio)
                if isinstance(audio, Mapping | bytes | bytearray)
                else await asyncio.to_thread(audio_source, audio)
            )
        body = create_body(type, avatar_id=avatar_id, voice_id=voice_id, text=text, audio=asset)
        return await self._call(
            "POST", PATH, "create", RealtimeCreated, json=body, idempotent=False, timeout=timeout
        )

    async def get_realtime(self, stream_id: str, *, timeout: float | None = None) -> RealtimeInfo:
        """``GET /v3/avatar-realtime/{stream_id}``: status, ``hls_url``, end or error reason.

        The guide's variants are accepted: ``status: "ready"`` reads as ``"streaming"`` and
        ``url`` as ``hls_url``.
        """
        from .models import RealtimeInfo

        path = _stream_path(stream_id)
        return await self._call("GET", path, "get", RealtimeInfo, idempotent=True, timeout=timeout)

    async def append_realtime_text(
        self,
        stream_id: str,
        delta: str,
        final: bool = False,
        *,
        timeout: float | None = None,
    ) -> RealtimeAppendResult:
        """``POST /v3/avatar-realtime/{stream_id}/text``: append a delta to a text_stream.

        ``final=True`` closes the input (``delta`` may then be empty); after that, appends
        raise `RealtimeInputClosedError` (HTTP 410). Never retried once the request may
        have arrived (it would repeat speech).
        """
        from .models import RealtimeAppendResult

        path = _stream_path(stream_id, "/text")
        if not isinstance(delta, str):
            raise ConfigurationError("delta must be a string")
        if not delta and not final:
            raise ConfigurationError("delta must be non-empty unless final=True")
        body = {"delta": delta, "final": final}
        return await self._call(
            "POST", path, "text", RealtimeAppendResult, json=body, idempotent=False, timeout=timeout
        )

    async def cancel_realtime(
        self, stream_id: str, *, timeout: float | None = None
    ) -> RealtimeCancelResult:
        """``POST /v3/avatar-realtime/{stream_id}/cancel``: stop the stream (idempotent).

        ``cancelled`` is False when the stream had already ended.
        """
        from .models import RealtimeCancelResult

        path = _stream_path(stream_id, "/cancel")
        return await self._call(
            "POST", path, "cancel", RealtimeCancelResult, json={}, idempotent=True, timeout=timeout
        )

    async def _call(
        self,
        method: str,
        path: str,
        name: str,
        model: type[_M],
        *,
        json: Any = None,
        idempotent: bool,
        timeout: float | None,
    ) -> _M:
        """One call: sent, its envelope decoded, its data parsed (append and cancel read
        empty data as ``{}``; create and get need theirs)."""
        from .._http.decode import parse
        from .envelope import decode_v3

        endpoint = f"avatar-realtime.{name}"
        sent = await self._transport.send(
            method, path, endpoint=endpoint, json=json, idempotent=idempotent, timeout=timeout
        )
        data = decode_v3(sent.response, endpoint)
        if name in ("text", "cancel"):
            data = data or {}
        return parse(model, data, endpoint)

    async def realtime_words(
        self, stream_id: str, *, timeout: float | None = None
    ) -> AsyncGenerator[WordBatch, None]:
        """``GET /v3/avatar-realtime/{stream_id}/words``: the word-timestamp batches (SSE).

        Yields each `WordBatch` (the full history first, then live ones) and ends at the
        ``event: end`` frame, or when the service closes the stream. ``timeout`` bounds
        opening the stream (retried like any GET), not the wait between batches.
        """
        from .._http.sse import SSEError, SSEParser
        from .envelope import word_batch

        endpoint = "avatar-realtime.words"
        response = await self._transport.open_stream(
            _stream_path(stream_id, "/words"),
            endpoint=endpoint,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
            timeout=timeout,
        )
        if not 200 <= response.status_code < 300:
            from .envelope import v3_error

            raise v3_error(response, endpoint)
        parser = SSEParser()
        try:
            async for chunk in response.aiter_bytes():
                for event in parser.feed(chunk):
                    if event.event == "end":
                        return
                    if event.event != "message":
                        continue
                    yield word_batch(event.data, endpoint)
            parser.close()
        except SSEError as exc:
            raise ResponseValidationError(str(exc), endpoint=endpoint) from None
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"{endpoint}: the word stream timed out") from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"{endpoint}: the word stream broke off ({type(exc).__name__})"
            ) from exc
        finally:
            await response.aclose()
