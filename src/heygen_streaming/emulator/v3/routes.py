"""HTTP side of ``/v3/avatar-realtime``: an aiohttp sub-application with its own envelopes.

=======  =========================================  ==========================================
method   path (under ``/v3/avatar-realtime``)       answer
=======  =========================================  ==========================================
POST     ``""``                                     201 ``{"data": {"stream_id"}}``
GET      ``/{stream_id}``                           ``{"data": {"stream_id", "status",
                                                    "hls_url"?, "end_reason"?, "error_message"?}}``
POST     ``/{stream_id}/text``                      202 ``{"data": {"buffered_bytes", "ok"}}``
GET      ``/{stream_id}/words``                     ``text/event-stream`` of word batches
POST     ``/{stream_id}/cancel``                    ``{"data": {"stream_id", "cancelled"}}``
GET      ``/{stream_id}/hls/{token}/{file}``        playlist / init / segments (no auth header:
                                                    the token in the path authorises)
=======  =========================================  ==========================================
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from .audio import load_audio
from .hls import fix_playlist, is_servable
from .options import RealtimeOptions
from .streams import RealtimeRegistry, RealtimeStream
from .wire import (
    AudioCreate,
    Base64Audio,
    TextCreate,
    V3Error,
    data_response,
    invalid,
    parse_append,
    parse_create,
)

__all__ = ["MAX_BODY_BYTES", "RealtimeApi"]

logger = logging.getLogger("heygen_streaming.emulator")

MAX_BODY_BYTES = 16 << 20
SSE_KEEPALIVE = 15.0
CORS = {"Access-Control-Allow-Origin": "*"}
_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RealtimeApi:
    """The v3 routes and the streams behind them; `register` mounts them on an app.

    ``api_keys`` is the accepted key set (``None``: any non-empty key, each its own account);
    ``bearer_owner`` maps a bearer token to its owner (e.g. v1 ``create_token`` tokens).
    """

    def __init__(
        self,
        options: RealtimeOptions | None = None,
        *,
        api_keys: frozenset[str] | None,
        bearer_owner: Callable[[str], str | None] = lambda token: None,
    ) -> None:
        self.options = options or RealtimeOptions()
        self.api_keys = api_keys
        self.bearer_owner = bearer_owner
        self.registry = RealtimeRegistry(self.options)
        app = web.Application(middlewares=[self._middleware])
        add = app.router.add_route
        add("POST", "/avatar-realtime", self.create)
        add("GET", "/avatar-realtime/{stream_id}", self.get)
        add("POST", "/avatar-realtime/{stream_id}/text", self.append_text)
        add("GET", "/avatar-realtime/{stream_id}/words", self.words)
        add("POST", "/avatar-realtime/{stream_id}/cancel", self.cancel)
        add("GET", "/avatar-realtime/{stream_id}/hls/{token}/{name}", self.hls_file)
        add("*", "/{tail:.*}", self._unknown)
        app.on_cleanup.append(self._cleanup)
        self.app = app

    def register(self, parent: web.Application) -> None:
        """Mount under ``/v3`` of ``parent``."""
        parent.add_subapp("/v3", self.app)

    async def _cleanup(self, app: web.Application) -> None:
        await self.registry.close()

    async def close(self) -> None:
        """End every stream and delete all files (also done on app cleanup)."""
        await self.registry.close()

    # -- plumbing ----------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except V3Error as err:
            return err.response(CORS)
        except web.HTTPException as exc:
            code = {405: "method_not_allowed", 413: "payload_too_large"}.get(
                exc.status, "not_found"
            )
            return V3Error(exc.status, code, exc.reason or "error").response(CORS)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("v3 handler failed")
            return V3Error(500, "internal_error", "Internal error").response(CORS)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        routes = ("avatar-realtime",)
        if request.match_info["tail"].split("/")[0] in routes:
            raise V3Error(405, "method_not_allowed", "Method not allowed")
        raise V3Error(404, "not_found", "Unknown route")

    def _owner(self, request: web.Request) -> str:
        """The account of the request's ``x-api-key`` or bearer token; else 401."""
        key = request.headers.get("x-api-key", "").strip()
        auth = request.headers.get("authorization", "").strip()
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        for credential, bearer in ((key, False), (token, True)):
            if not credential:
                continue
            if self.api_keys is None or credential in self.api_keys:
                return credential
            owner = self.bearer_owner(credential) if bearer else None
            if owner is not None:
                return owner
        raise V3Error(401, "unauthorized", "Missing or invalid API key")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        raw = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise V3Error(413, "payload_too_large", "Request body too large")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise invalid("Malformed JSON body") from None
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object")
        return body

    def _stream(self, request: web.Request) -> RealtimeStream:
        owner = self._owner(request)
        return self.registry.get(request.match_info["stream_id"], owner)

    # -- endpoints ---------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.StreamResponse:
        """Create a stream (``tts``, ``audio`` or ``text_stream``)."""
        owner = self._owner(request)
        body = parse_create(await self._json(request))
        voice = body.voice_id if isinstance(body, TextCreate) else None
        audio_data: bytes | None = None
        if isinstance(body, AudioCreate) and isinstance(body.audio, Base64Audio):
            try:
                audio_data = base64.b64decode(body.audio.data, validate=True)
            except (binascii.Error, ValueError):
                raise invalid("audio.data: not valid base64", "audio.data") from None
        stream = self.registry.create(owner, body.type, body.avatar_id, voice)
        if isinstance(body, TextCreate):
            stream.script.add_text(body.text, final=body.type == "tts")
            self.registry.start_worker(stream)
        else:
            task = asyncio.create_task(self._prepare_audio(stream, body, audio_data))
            self.registry.track(task)
        return data_response({"stream_id": stream.stream_id}, status=201)

    async def _prepare_audio(
        self, stream: RealtimeStream, body: AudioCreate, data: bytes | None
    ) -> None:
        """Fetch/decode the audio off the event loop, then start the worker (or fail)."""
        try:
            clip = await load_audio(body.audio, data, self.options.max_length)
        except ValueError as exc:
            self.registry.fail(stream, f"audio could not be used: {exc}")
            return
        if stream.live:
            stream.script.add_clip(clip)
            self.registry.start_worker(stream)

    async def get(self, request: web.Request) -> web.StreamResponse:
        """Status; ``hls_url`` only while streaming."""
        stream = self._stream(request)
        return data_response(stream.as_data(_origin(request)))

    async def append_text(self, request: web.Request) -> web.StreamResponse:
        """Append a text delta to a ``text_stream``; 410 once input is closed or it ended."""
        stream = self._stream(request)
        body = parse_append(await self._json(request))
        if stream.mode != "text_stream":
            raise invalid("Only text_stream sessions accept text", "stream_id")
        if stream.script.closed:
            raise V3Error(410, "stream_closed", "Input is closed: final was already sent")
        if not stream.live:
            raise V3Error(410, "stream_closed", f"The session has ended ({stream.status})")
        total = stream.script.add_text(body.delta, final=body.final)
        return data_response({"buffered_bytes": total, "ok": True}, status=202)

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        """Cancel (idempotent): ``cancelled`` says whether this call ended the stream."""
        stream = self._stream(request)
        cancelled = self.registry.cancel(stream)
        return data_response({"stream_id": stream.stream_id, "cancelled": cancelled})

    async def words(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: word batches (history first), then one ``event: end``."""
        stream = self._stream(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                **CORS,
            }
        )
        await response.prepare(request)
        events = stream.words.follow()
        try:
            while True:
                try:
                    name, data = await asyncio.wait_for(anext(events), SSE_KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                except StopAsyncIteration:
                    break
                head = f"event: {name}\n" if name else ""
                text = json.dumps(data, separators=(",", ":"))
                await response.write(f"{head}data: {text}\n\n".encode())
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            return response
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()
        await response.write_eof()
        return response

    async def hls_file(self, request: web.Request) -> web.StreamResponse:
        """A playlist/segment file; the path's token is the only credential."""
        stream = self.registry.streams.get(request.match_info["stream_id"])
        name = request.match_info["name"]
        token = request.match_info["token"]
        if stream is None or not secrets.compare_digest(token.encode(), stream.token.encode()):
            raise V3Error(404, "not_found", "No such stream file")
        if not is_servable(name) or stream.files_removed:
            raise V3Error(404, "not_found", "No such stream file")
        try:
            body = await asyncio.to_thread((stream.directory / name).read_bytes)
        except OSError:
            raise V3Error(404, "not_found", "No such stream file") from None
        if name.endswith(".m3u8"):
            body = fix_playlist(body.decode()).encode()
        headers = {"Cache-Control": "no-cache" if name.endswith(".m3u8") else "max-age=60", **CORS}
        content_type = _CONTENT_TYPES[name[name.rfind(".") :]]
        return web.Response(body=body, content_type=content_type, headers=headers)


def _origin(request: web.Request) -> str:
    """``scheme://host:port`` the client used to reach the emulator."""
    return f"{request.scheme}://{request.host}"
