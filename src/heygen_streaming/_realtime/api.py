"""Avatar Realtime (``/v3/avatar-realtime``) calls, mixed into `StreamingClient`.

Envelopes: success is ``{"data": ...}``; an error is ``{"error": {"code", "message",
"param", "doc_url"}}`` mapped onto the package's exceptions by HTTP status (``code`` is
the string code, ``param`` and ``doc_url`` are kept). Only idempotent calls are retried
(get, cancel, opening the word stream); create and append never are once the request may
have reached the service (they bill or repeat speech).
"""

# ``timeout=`` below is the per-call deadline of the public API, not an asyncio timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from .._errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    ResponseValidationError,
)
from .._http import retry as _retry

# The v3 models, decoders and SSE parser load on the first v3 call: a v1-only program
# (and every program's start-up) does not pay for them.
from .._http.transport import HttpCore

if TYPE_CHECKING:
    from .models import (
        RealtimeAppendResult,
        RealtimeCancelResult,
        RealtimeCreated,
        RealtimeInfo,
        RealtimeType,
        WordBatch,
    )
    from .session import RealtimeMode, RealtimeSession

__all__ = ["RealtimeAPI"]

PATH = "/v3/avatar-realtime"
_MAX_ERROR_BODY = 64 * 1024
_WIRE = frozenset({"content-encoding", "content-length", "transfer-encoding"})

AudioInput = str | os.PathLike[str] | bytes | Mapping[str, Any]


def _stream_path(stream_id: str, suffix: str = "") -> str:
    if not isinstance(stream_id, str) or not stream_id.strip():
        raise ConfigurationError("stream_id must be a non-empty string")
    return f"{PATH}/{quote(stream_id, safe='')}{suffix}"


class RealtimeAPI:
    """The Avatar Realtime (v3) endpoints; `StreamingClient` inherits them."""

    _realtime_sessions: weakref.WeakSet[RealtimeSession] | None = None

    _core: HttpCore

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
        from .._http.decode import parse
        from .envelope import decode_v3
        from .models import RealtimeCreated, audio_source, create_body

        asset: Mapping[str, Any] | None = None
        if audio is not None:
            asset = (
                audio_source(audio)
                if isinstance(audio, Mapping | bytes | bytearray)
                else await asyncio.to_thread(audio_source, audio)
            )
        body = create_body(type, avatar_id=avatar_id, voice_id=voice_id, text=text, audio=asset)
        sent = await self._core.send(
            "POST",
            PATH,
            endpoint="avatar-realtime.create",
            json=body,
            idempotent=False,
            timeout=timeout,
        )
        data = decode_v3(sent.response, "avatar-realtime.create")
        return parse(RealtimeCreated, data, "avatar-realtime.create")

    async def get_realtime(self, stream_id: str, *, timeout: float | None = None) -> RealtimeInfo:
        """``GET /v3/avatar-realtime/{stream_id}``: status, ``hls_url``, end or error reason.

        The guide's variants are accepted: ``status: "ready"`` reads as ``"streaming"`` and
        ``url`` as ``hls_url``.
        """
        from .._http.decode import parse
        from .envelope import decode_v3
        from .models import RealtimeInfo

        path = _stream_path(stream_id)
        sent = await self._core.send(
            "GET", path, endpoint="avatar-realtime.get", idempotent=True, timeout=timeout
        )
        return parse(
            RealtimeInfo, decode_v3(sent.response, "avatar-realtime.get"), "avatar-realtime.get"
        )

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
        from .._http.decode import parse
        from .envelope import decode_v3
        from .models import RealtimeAppendResult

        path = _stream_path(stream_id, "/text")
        if not isinstance(delta, str):
            raise ConfigurationError("delta must be a string")
        if not delta and not final:
            raise ConfigurationError("delta must be non-empty unless final=True")
        sent = await self._core.send(
            "POST",
            path,
            endpoint="avatar-realtime.text",
            json={"delta": delta, "final": final},
            idempotent=False,
            timeout=timeout,
        )
        data = decode_v3(sent.response, "avatar-realtime.text")
        return parse(RealtimeAppendResult, data or {}, "avatar-realtime.text")

    async def cancel_realtime(
        self, stream_id: str, *, timeout: float | None = None
    ) -> RealtimeCancelResult:
        """``POST /v3/avatar-realtime/{stream_id}/cancel``: stop the stream (idempotent).

        ``cancelled`` is False when the stream had already ended.
        """
        from .._http.decode import parse
        from .envelope import decode_v3
        from .models import RealtimeCancelResult

        path = _stream_path(stream_id, "/cancel")
        sent = await self._core.send(
            "POST",
            path,
            endpoint="avatar-realtime.cancel",
            json={},
            idempotent=True,
            timeout=timeout,
        )
        data = decode_v3(sent.response, "avatar-realtime.cancel")
        return parse(RealtimeCancelResult, data or {}, "avatar-realtime.cancel")

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
        response = await self._open_sse(_stream_path(stream_id, "/words"), endpoint, timeout)
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

    async def _open_sse(self, path: str, endpoint: str, timeout: float | None) -> httpx.Response:
        """Open a streaming GET: retried while nothing was read, then handed over open."""
        self._core.check_open()
        limit = self._core.timeout if timeout is None else timeout
        headers = {**self._core.headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        retry = 0
        while True:
            self._core.check_open()
            request = self._core.http.build_request(
                "GET",
                self._core.url(path),
                headers=headers,
                timeout=httpx.Timeout(limit, read=None),
            )
            try:
                response = await self._core.http.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                if retry < self._core.max_retries:
                    await _retry.sleep(_retry.backoff_delay(retry))
                    retry += 1
                    continue
                if isinstance(exc, httpx.TimeoutException):
                    raise APITimeoutError(f"{endpoint}: opening the word stream timed out") from exc
                raise APIConnectionError(
                    f"{endpoint}: cannot reach {self._core.base_url} ({type(exc).__name__})"
                ) from exc
            if 200 <= response.status_code < 300:
                return response
            try:
                content = b""
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > _MAX_ERROR_BODY:
                        break
            finally:
                await response.aclose()
            status = response.status_code
            if _retry.is_retryable_status(status) and retry < self._core.max_retries:
                after = _retry.parse_retry_after(response.headers.get("retry-after"))
                if after is None or after <= _retry.MAX_DELAY:
                    await _retry.sleep(_retry.backoff_delay(retry, after))
                    retry += 1
                    continue
            kept = [  # the body is decoded already: drop its wire encoding
                (k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE
            ]
            from .envelope import json_or_marker, v3_error

            failed = httpx.Response(status, headers=kept, content=content[:_MAX_ERROR_BODY])
            raise v3_error(failed, json_or_marker(failed), endpoint)

    def realtime(
        self,
        avatar: str,
        voice: str | None = None,
        text: str | None = None,
        *,
        mode: RealtimeMode = "text_stream",
        audio: AudioInput | None = None,
        max_seconds: float | None = 600.0,
        ready_timeout: float = 60.0,
        poll_interval: float = 1.0,
        cancel_timeout: float = 5.0,
        video_capacity: int = 10,
        audio_capacity: int = 50,
    ) -> RealtimeSession:
        """A high-level `RealtimeSession`: ``async with client.realtime(...) as rt``.

        See `RealtimeSession` for the options; arguments are checked before any request.
        """
        from .session import RealtimeSession

        session = RealtimeSession(
            self,  # type: ignore[arg-type]
            avatar=avatar,
            voice=voice,
            text=text,
            mode=mode,
            audio=audio,
            max_seconds=max_seconds,
            ready_timeout=ready_timeout,
            poll_interval=poll_interval,
            cancel_timeout=cancel_timeout,
            video_capacity=video_capacity,
            audio_capacity=audio_capacity,
        )
        if self._realtime_sessions is None:
            self._realtime_sessions = weakref.WeakSet()
        self._realtime_sessions.add(session)  # weakly: a forgotten session can be collected
        return session

    async def _close_realtime(self) -> None:
        """Close (cancel) the realtime sessions still open, bounded: none outlives the client."""
        sessions = [s for s in self._realtime_sessions or () if s.started]
        closes = [asyncio.ensure_future(s.aclose()) for s in sessions]
        if closes:
            bound = max(s.cancel_timeout for s in sessions) + 2.0
            _, late = await asyncio.wait(closes, timeout=bound)
            for task in late:
                task.cancel()
            await asyncio.gather(*closes, return_exceptions=True)
