"""``/v3/avatar-realtime`` (HeyGen Avatar Realtime): the route table and its handlers.

=======  ===============================================  ==================================
method   path                                             answer
=======  ===============================================  ==================================
POST     ``/v3/avatar-realtime``                          201 ``{"data": {"stream_id"}}``
GET      ``/v3/avatar-realtime/{stream_id}``              ``{"data": {"stream_id", "status",
                                                          "hls_url"?, "end_reason"?,
                                                          "error_message"?}}``
POST     ``/v3/avatar-realtime/{stream_id}/text``         202 ``{"data": {"buffered_bytes",
                                                          "ok"}}``
GET      ``/v3/avatar-realtime/{stream_id}/words``        ``text/event-stream`` word batches
POST     ``/v3/avatar-realtime/{stream_id}/cancel``       ``{"data": {"stream_id",
                                                          "cancelled"}}``
GET      ``/v3/avatar-realtime/{stream_id}/hls/{token}/   playlist / init / segments (no auth
         {file}``                                         header: the path's token authorises)
=======  ===============================================  ==================================

Fault-injection endpoint names: ``realtime_create``, ``realtime_get``, ``realtime_text``,
``realtime_words``, ``realtime_cancel``, ``realtime_hls``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from ..routes import ApiVersion, Call, EmulatorError, Handler, Principal, Route
from .audio import URL_UNUSABLE, AudioLimits, AudioRejected, fetch_audio, probe_audio, url_allowed
from .hls import fix_playlist, is_servable
from .options import RealtimeOptions
from .script import TextBufferFull
from .streams import RealtimeRegistry, RealtimeStream
from .wire import (
    AssetAudio,
    AudioCreate,
    Base64Audio,
    TextCreate,
    UrlAudio,
    data_response,
    error_body,
    invalid,
    parse_append,
    parse_create,
    v3_error,
)

if TYPE_CHECKING:
    from ..app import EmulatorApp

__all__ = ["V3Api"]

logger = logging.getLogger("heygen_streaming.emulator")

SSE_KEEPALIVE = 15.0
BASE = "/v3/avatar-realtime"
DEFAULT_AVATAR_ID = "emulator-avatar"
DEFAULT_VOICE_ID = "emulator-voice"
"""Ids announced by ``GET /emulator`` for clients that need one (any id is accepted)."""
AUDIO_FILE = "source.audio"
"""A fetched audio file, in the stream's directory (never served: not an HLS name)."""
_ANONYMOUS = Principal("")
_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
}


class V3Api(ApiVersion):
    """Avatar Realtime as the published reference describes it (see the module docstring).

    Its settings are ``app.options.realtime`` (`RealtimeOptions`); its streams live in
    `registry`, and are ended (files deleted) when the app is cleaned up.
    """

    name = "v3"

    def __init__(self, app: EmulatorApp) -> None:
        super().__init__(app)
        options = getattr(app.options, "realtime", None)
        self.options = options if isinstance(options, RealtimeOptions) else RealtimeOptions()
        self.registry = RealtimeRegistry(self.options)
        app.app.on_shutdown.append(self._shutdown)
        app.app.on_cleanup.append(self._cleanup)

    async def _shutdown(self, _: web.Application) -> None:
        self.registry.end_all()  # open /words streams get their end event and finish

    async def _cleanup(self, _: web.Application) -> None:
        await self.registry.close()

    async def reset(self) -> int:
        """Cancel every live stream (all keys); returns how many were live."""
        live = [s for s in self.registry.streams.values() if s.live]
        for stream in live:
            self.registry.cancel(stream)
        return len(live)

    def describe(self) -> dict[str, Any]:
        """Default ids and limits, for clients of ``GET /emulator``."""
        return {
            "path": BASE,
            "avatar_id": DEFAULT_AVATAR_ID,
            "voice_id": DEFAULT_VOICE_ID,
            "max_streams": self.options.max_streams,
            "audio_urls": bool(self.options.audio_url_hosts),
        }

    def routes(self) -> Sequence[Route]:
        """The v3 route table (the last route answers unknown ``/v3/...`` paths)."""
        stream = BASE + "/{stream_id}"
        g = _guard
        return [
            Route(("POST",), BASE, "realtime_create", g(self.create)),
            Route(("GET",), stream, "realtime_get", g(self.get), "none"),
            Route(("POST",), stream + "/text", "realtime_text", g(self.append_text)),
            Route(("GET",), stream + "/words", "realtime_words", g(self.words), "none"),
            Route(("POST",), stream + "/cancel", "realtime_cancel", g(self.cancel), "optional"),
            Route(
                ("GET",), stream + "/hls/{token}/{name}", "realtime_hls", g(self.hls_file), "none"
            ),
            Route(
                ("GET", "POST", "PUT", "PATCH", "DELETE"),
                "/v3/{tail:.*}",
                "realtime_unknown",
                g(self.unknown),
                "none",
            ),
        ]

    # -- wire shapes ------------------------------------------------------------------------
    def authenticate(self, request: web.Request, endpoint: str) -> Principal:
        """``x-api-key`` (any case), or ``Authorization: Bearer`` with an accepted key or a
        v1 ``create_token`` token. Playback files and unknown routes need no credential."""
        if endpoint in ("realtime_hls", "realtime_unknown"):
            return _ANONYMOUS
        from ..app import MAX_BODY_BYTES  # the core reads at most this much

        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise v3_error(413, "payload_too_large", "Request body too large (max 1 MiB)")
        principal = self.app.principal_for(request, allow_token=True)
        if principal is not None:
            return principal
        auth = request.headers.get("Authorization", "").strip()
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        keys = self.app.api_keys
        if bearer and (keys is None or bearer in keys):
            return Principal(bearer)
        raise self.unauthorized()

    def unauthorized(self) -> EmulatorError:
        """401 ``unauthorized``."""
        return v3_error(401, "unauthorized", "Missing or invalid API key")

    def invalid(self, detail: str) -> EmulatorError:
        """400 ``invalid_parameter`` (malformed JSON, not an object)."""
        return invalid(detail)

    def error_body(self, err: EmulatorError) -> dict[str, Any]:
        """The v3 error envelope."""
        return error_body(err)

    def fault_body(self, kind: str, status: int) -> tuple[int, dict[str, Any]]:
        """Injected faults in v3 envelopes."""
        if kind == "bad_envelope":
            return 200, {"data": "???"}
        if kind == "error_code":
            return 200, {"error": {"code": "internal_error", "message": "Injected failure"}}
        code = {401: "unauthorized", 429: "rate_limit_exceeded"}.get(status, "internal_error")
        return status, error_body(v3_error(status, code, f"Injected HTTP {status}"))

    def _stream(self, call: Call) -> RealtimeStream:
        return self.registry.get(call.request.match_info["stream_id"], call.owner)

    # -- endpoints ---------------------------------------------------------------------
    async def unknown(self, call: Call) -> web.StreamResponse:
        """404 for unknown ``/v3`` paths, 405 for a known path with another method."""
        if call.request.match_info["tail"].split("/")[0] == "avatar-realtime":
            raise v3_error(405, "method_not_allowed", "Method not allowed")
        raise v3_error(404, "not_found", "Unknown route")

    async def create(self, call: Call) -> web.StreamResponse:
        """Create a stream (``tts``, ``audio`` or ``text_stream``).

        Inline audio is decoded (bounded, see `.audio`) before the answer: audio that is
        not usable is a 400. A URL is fetched afterwards (the stream ends in ``error``
        if it cannot be used).
        """
        body = parse_create(call.body)
        voice = body.voice_id if isinstance(body, TextCreate) else None
        audio_data: bytes | None = None
        if isinstance(body, AudioCreate):
            audio_data = self._check_audio(body.audio)
        stream = self.registry.create(call.owner, body.type, body.avatar_id, voice)
        if isinstance(body, TextCreate):
            stream.script.add_text(body.text, final=body.type == "tts")
            self.registry.start_worker(stream)
        elif isinstance(body.audio, Base64Audio):
            await self._probe_inline(stream, audio_data or b"")
        else:
            task = asyncio.create_task(self._prepare_audio(stream, body.audio))
            self.registry.track(task)
        return data_response({"stream_id": stream.stream_id}, status=201)

    def _check_audio(self, source: UrlAudio | AssetAudio | Base64Audio) -> bytes | None:
        """The inline audio's bytes; a 400 for bad base64 or a URL this emulator won't fetch."""
        if isinstance(source, Base64Audio):
            try:
                return base64.b64decode(source.data, validate=True)
            except (binascii.Error, ValueError):
                raise invalid("audio.data: not valid base64", "audio.data") from None
        if isinstance(source, UrlAudio):
            if not self.options.audio_url_hosts:
                raise invalid(
                    "audio.url: this emulator fetches no audio URLs (allow hosts with"
                    " --v3-audio-url-host); send the audio inline as base64",
                    "audio.url",
                )
            if not url_allowed(source.url, self.options.url_hosts):
                raise invalid(
                    "audio.url: only http(s) URLs on the hosts allowed by --v3-audio-url-host"
                    " are fetched",
                    "audio.url",
                )
        return None

    def _limits(self) -> AudioLimits:
        return AudioLimits(max_seconds=self.options.max_audio_seconds)

    async def _probe_inline(self, stream: RealtimeStream, data: bytes) -> None:
        """Decode inline audio off the loop (the stream holds its slot meanwhile, which
        bounds concurrent decoding); start the worker, or fail the stream and raise 400."""
        try:
            clip = await asyncio.to_thread(probe_audio, data, self._limits())
        except AudioRejected as exc:
            self.registry.fail(stream, f"audio could not be used: {exc}")
            raise invalid(f"audio.data: {exc}", "audio.data") from None
        except BaseException:
            self.registry.fail(stream, "the create request was interrupted")
            raise
        if stream.live:
            stream.script.add_clip(clip)
            self.registry.start_worker(stream)

    async def _prepare_audio(self, stream: RealtimeStream, source: UrlAudio | AssetAudio) -> None:
        """Fetch and decode a URL off the event loop, then start the worker (or fail)."""
        if isinstance(source, AssetAudio):
            message = f"unknown asset_id {source.asset_id!r} (the emulator has no assets)"
            self.registry.fail(stream, f"audio could not be used: {message}")
            return
        path = stream.directory / AUDIO_FILE
        try:
            await fetch_audio(source.url, path)
            clip = await asyncio.to_thread(probe_audio, path, self._limits())
        except (AudioRejected, OSError):
            self.registry.fail(stream, f"audio could not be used: {URL_UNUSABLE}")
            return
        if stream.live:
            stream.script.add_clip(clip)
            self.registry.start_worker(stream)

    async def get(self, call: Call) -> web.StreamResponse:
        """Status; ``hls_url`` only while streaming."""
        stream = self._stream(call)
        return data_response(stream.as_data(_origin(call.request)))

    async def append_text(self, call: Call) -> web.StreamResponse:
        """Append a text delta to a ``text_stream``; 410 once input is closed or it ended."""
        stream = self._stream(call)
        body = parse_append(call.body)
        if stream.mode != "text_stream":
            raise invalid("Only text_stream sessions accept text", "stream_id")
        if stream.script.closed:
            raise v3_error(410, "stream_closed", "Input is closed: final was already sent")
        if not stream.live:
            raise v3_error(410, "stream_closed", f"The session has ended ({stream.status})")
        try:
            total = stream.script.add_text(body.delta, final=body.final)
        except TextBufferFull as exc:
            raise v3_error(413, "payload_too_large", f"Text buffer full: {exc}") from None
        return data_response({"buffered_bytes": total, "ok": True}, status=202)

    async def cancel(self, call: Call) -> web.StreamResponse:
        """Cancel (idempotent): ``cancelled`` says whether this call ended the stream."""
        stream = self._stream(call)
        cancelled = self.registry.cancel(stream)
        return data_response({"stream_id": stream.stream_id, "cancelled": cancelled})

    async def words(self, call: Call) -> web.StreamResponse:
        """Server-sent events: word batches (history first), then one ``event: end``."""
        stream = self._stream(call)
        request = call.request
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                # Prepared here, so the core cannot add its CORS headers afterwards.
                **self.app._cors(request),
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

    async def hls_file(self, call: Call) -> web.StreamResponse:
        """A playlist/segment file; the path's token is the only credential."""
        info = call.request.match_info
        stream = self.registry.streams.get(info["stream_id"])
        name, token = info["name"], info["token"]
        missing = v3_error(404, "not_found", "No such stream file")
        if stream is None or not secrets.compare_digest(token.encode(), stream.token.encode()):
            raise missing
        if not is_servable(name) or stream.files_removed:
            raise missing
        try:
            body = await asyncio.to_thread((stream.directory / name).read_bytes)
        except OSError:
            raise missing from None
        if name.endswith(".m3u8"):
            body = fix_playlist(body.decode()).encode()
        headers = {"Cache-Control": "no-cache" if name.endswith(".m3u8") else "max-age=60"}
        content_type = _CONTENT_TYPES[name[name.rfind(".") :]]
        return web.Response(body=body, content_type=content_type, headers=headers)


def _guard(handler: Handler) -> Handler:
    """Unexpected failures become a v3 ``500 internal_error`` (never a traceback)."""

    async def guarded(call: Call) -> web.StreamResponse:
        try:
            return await handler(call)
        except (EmulatorError, asyncio.CancelledError):
            raise
        except Exception:
            logger.exception("v3 handler failed")
            raise v3_error(500, "internal_error", "Internal error") from None

    return guarded


def _origin(request: web.Request) -> str:
    """``scheme://host:port`` the client used to reach the emulator."""
    return f"{request.scheme}://{request.host}"
