"""HTTP side of the emulator: routes, envelopes, auth, CORS and fault injection (aiohttp).

aiohttp runs in the same event loop as aiortc (no separate ASGI server process or thread),
so handlers can create and drive peer connections directly; its middlewares make the
envelope, auth, CORS and fault layers small.

Error answers (always ``{"code": <int>, "message": "..."}``, never a traceback):

=====================================  ======  ======================================
case                                   HTTP    code
=====================================  ======  ======================================
missing/bad key or token               401     400112 (``ErrorCode.UNAUTHORIZED``)
malformed JSON, wrong types, bad       400     400100 (``ErrorCode.INVALID_PARAMETER``)
values, empty or oversized text,
garbage SDP or candidate
unknown, closed or foreign session     404     400113 (``ErrorCode.SESSION_NOT_FOUND``)
too many sessions for this key         400     400114 (``ErrorCode.CONCURRENCY_LIMIT``)
wrong state (start twice, task         400     400116 (``ErrorCode.SESSION_STATE``)
before start)
body too large (> 1 MiB)               413     400100
unknown route / method                 404/405 400100
unexpected failure                     500     500000 (``ErrorCode.INTERNAL``)
=====================================  ======  ======================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .._errors import ErrorCode
from .._models import (
    IceRequest,
    NewSessionRequest,
    SessionIdRequest,
    StartSessionRequest,
    TaskRequest,
)
from .avatar import RESOLUTIONS, AvatarState, face_layers
from .faults import Faults
from .peer import EmulatorPeer
from .sessions import EmulatedSession, EmulatorError, SessionRegistry, TokenStore
from .speech import Utterance, chat_reply, estimate_duration_ms

__all__ = ["MAX_BODY_BYTES", "MAX_TEXT_LENGTH", "EmulatorApp"]

logger = logging.getLogger("heygen_streaming.emulator")

MAX_TEXT_LENGTH = 10_000
MAX_BODY_BYTES = 1 << 20
DEFAULT_QUALITY = "medium"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "X-Api-Key, Authorization, Content-Type, Accept",
    "Access-Control-Max-Age": "600",
}
ENDPOINTS = (
    "new",
    "start",
    "ice",
    "task",
    "stop",
    "interrupt",
    "list",
    "keep_alive",
    "create_token",
)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[str, dict[str, Any], str | None], Awaitable[Any]]


def envelope(data: Any = None) -> dict[str, Any]:
    """The success envelope."""
    return {"code": ErrorCode.SUCCESS, "message": "success", "data": data}


def error_response(err: EmulatorError) -> web.Response:
    """An error envelope response."""
    headers = {**CORS_HEADERS, **err.headers}
    body = {"code": err.code, "message": err.message, "data": None}
    return web.json_response(body, status=err.status, headers=headers)


def _bad(message: str) -> EmulatorError:
    return EmulatorError(400, ErrorCode.INVALID_PARAMETER, message)


def _validate(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise _bad(f"Invalid parameters: {problems}") from None


class EmulatorApp:
    """The aiohttp application and the state behind it."""

    def __init__(
        self,
        *,
        api_keys: Sequence[str] | None,
        max_sessions: int,
        idle_timeout: float | None,
        duration_limit: float,
        token_ttl: float,
        ice_servers: list[dict[str, Any]] | None,
        max_text_length: int = MAX_TEXT_LENGTH,
        tts_latency: float = 0.05,
        stamp: bool = False,
    ) -> None:
        self.tts_latency = tts_latency
        self.stamp = stamp
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.registry = SessionRegistry(
            max_sessions=max_sessions, idle_timeout=idle_timeout, duration_limit=duration_limit
        )
        self.tokens = TokenStore(token_ttl)
        self.faults = Faults()
        self.ice_servers = list(ice_servers or [])
        self.max_text_length = max_text_length
        self.base_url = ""
        self.faults._freeze = self._freeze
        self.faults._drop = self._drop_all
        self._handlers: dict[str, Handler] = {
            "new": self.new,
            "start": self.start,
            "ice": self.ice,
            "task": self.task,
            "stop": self.stop,
            "interrupt": self.interrupt,
            "list": self.list_sessions,
            "keep_alive": self.keep_alive,
            "create_token": self.create_token,
        }
        self.app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        self.app.router.add_route("*", "/v1/streaming.{name}", self._dispatch)
        self.app.router.add_get("/", self._index)
        self.app.router.add_get("/static/{file}", self._static)

    # -- plumbing ----------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=CORS_HEADERS)
        try:
            response = await handler(request)
        except EmulatorError as err:
            return error_response(err)
        except web.HTTPException as exc:
            code = ErrorCode.INVALID_PARAMETER
            return error_response(EmulatorError(exc.status, code, exc.reason or "error"))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("emulator handler failed")
            return error_response(EmulatorError(500, ErrorCode.INTERNAL, "Internal error"))
        response.headers.update(CORS_HEADERS)
        return response

    def _auth(self, request: web.Request, endpoint: str) -> tuple[str, str | None]:
        """Return (owner, bearer token or None); raise 401 when not authorised."""
        key = request.headers.get("X-Api-Key", "").strip()
        auth = request.headers.get("Authorization", "").strip()
        unauthorized = EmulatorError(401, ErrorCode.UNAUTHORIZED, "Unauthorized")
        if key:
            if self.api_keys is not None and key not in self.api_keys:
                raise unauthorized
            return key, None
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            owner = self.tokens.owner(token)
            if owner is None or endpoint == "create_token":
                raise unauthorized
            return owner, token
        raise unauthorized

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        handler = self._handlers.get(name)
        if handler is None:
            raise EmulatorError(
                404, ErrorCode.INVALID_PARAMETER, f"Unknown endpoint streaming.{name}"
            )
        if request.method != "POST" and not (request.method == "GET" and name == "list"):
            raise EmulatorError(405, ErrorCode.INVALID_PARAMETER, "Method not allowed")
        delay = self.faults.take_delay(name)
        if delay > 0:
            await asyncio.sleep(delay)
        rule = self.faults.take_failure(name)
        if rule is not None and not rule.after:
            return self._fault_response(request, rule.kind, rule.status, rule.retry_after)
        owner, token = self._auth(request, name)
        body = await self._json_body(request, name)
        data = await handler(owner, body, token)
        if rule is not None:
            return self._fault_response(request, rule.kind, rule.status, rule.retry_after)
        return web.json_response(envelope(data))

    def _fault_response(
        self, request: web.Request, kind: str, status: int, retry_after: float | None
    ) -> web.StreamResponse:
        headers = dict(CORS_HEADERS)
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.close()  # the client sees the connection drop
            return web.Response(status=status, headers=headers)
        if kind == "garbage":
            return web.Response(status=status, text="<html>upstream exploded", headers=headers)
        if kind == "bad_envelope":
            return web.json_response(
                {"code": 100, "message": "success", "data": "???"}, headers=headers
            )
        if kind == "error_code":
            body = {"code": ErrorCode.INTERNAL, "message": "Injected failure", "data": None}
            return web.json_response(body, headers=headers)
        code = {401: ErrorCode.UNAUTHORIZED, 429: ErrorCode.RATE_LIMITED}.get(
            status, ErrorCode.INTERNAL
        )
        body = {"code": code, "message": f"Injected HTTP {status}", "data": None}
        return web.json_response(body, status=status, headers=headers)

    async def _json_body(self, request: web.Request, name: str) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            if name in ("list", "create_token"):
                return {}
            raise _bad("Request body must be a JSON object")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _bad("Malformed JSON body") from None
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        return body

    def _freeze(self, session_id: str | None, frozen: bool) -> int:
        count = 0
        for session in list(self.registry.sessions.values()):
            if session_id is None or session.session_id == session_id:
                if frozen:
                    session.state.freeze()
                else:
                    session.state.thaw()
                count += 1
        return count

    async def _drop_all(self) -> int:
        return await self.registry.close_all("dropped", abrupt=True)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return await self._static_file("index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return await self._static_file(request.match_info["file"])

    async def _static_file(self, name: str) -> web.StreamResponse:
        types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or ".." in name or suffix not in types:
            raise EmulatorError(404, ErrorCode.INVALID_PARAMETER, "Not found")
        try:
            text = resources.files(__package__).joinpath("static", name).read_text("utf-8")
        except (FileNotFoundError, OSError):
            raise EmulatorError(404, ErrorCode.INVALID_PARAMETER, "Not found") from None
        return web.Response(text=text, content_type=types[suffix])

    def _session(self, owner: str, body: dict[str, Any]) -> EmulatedSession:
        request = _validate(SessionIdRequest, body)
        return self.registry.get(request.session_id, owner)

    # -- endpoints ---------------------------------------------------------------------
    async def new(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.new``: create a session whose peer makes the offer."""
        request = _validate(NewSessionRequest, body)
        quality = str(request.quality or DEFAULT_QUALITY)
        if quality not in RESOLUTIONS:
            raise _bad(f"Unknown quality {quality!r}")
        idle: float | None = self.registry.idle_timeout
        if request.activity_idle_timeout is not None:
            if not 30 <= request.activity_idle_timeout < 3600:
                raise _bad("activity_idle_timeout must be >= 30 and < 3600 seconds")
            idle = float(request.activity_idle_timeout)
        if request.disable_idle_timeout:
            idle = None
        with self.registry.reserve(owner):
            if token is not None and not self.tokens.use_for_new(token):
                raise EmulatorError(401, ErrorCode.UNAUTHORIZED, "Token already used for a session")
            avatar = request.avatar_name or request.avatar_id or "emulator"
            voice = request.voice
            seed = zlib.crc32(f"{avatar}/{voice.voice_id if voice else ''}".encode())
            width, height = RESOLUTIONS[quality]
            loop = asyncio.get_running_loop()  # draw a new avatar off the event loop
            await loop.run_in_executor(None, face_layers, width, height, avatar)
            state = AvatarState(quality=quality, avatar=avatar, seed=seed, stamp=self.stamp)
            state.voice_rate = float(voice.rate) if voice and voice.rate else 1.0
            state.voice_pitch = 0.8 + (seed % 64) / 100.0
            v2 = (request.version or "").lower() == "v2"
            peer: EmulatorPeer | None = None
            sdp: str | None = None
            if not v2:
                encoding = str(request.video_encoding or "VP8")
                peer = EmulatorPeer(state, video_codec=encoding)
                try:
                    sdp = await peer.make_offer()
                except BaseException:
                    await peer.close()
                    raise
            session = self.registry.add(
                owner=owner,
                quality=quality,
                avatar=avatar,
                state=state,
                peer=peer,
                idle_timeout=idle,
            )
        return {
            "session_id": session.session_id,
            "sdp": {"type": "offer", "sdp": sdp} if sdp is not None else None,
            "access_token": secrets.token_urlsafe(24) if v2 else None,
            "url": f"{self.base_url.replace('http', 'ws', 1)}/v2-unsupported" if v2 else None,
            "realtime_endpoint": None,
            "ice_servers": self.ice_servers,
            "ice_servers2": self.ice_servers,
            "is_paid": True,
            "session_duration_limit": int(self.registry.duration_limit),
        }

    async def start(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.start``: apply the client's answer."""
        request = _validate(StartSessionRequest, body)
        session = self.registry.get(request.session_id, owner)
        if request.sdp.type != "answer":
            raise _bad("sdp.type must be 'answer'")
        if session.peer is None:
            raise EmulatorError(400, ErrorCode.SESSION_STATE, "Session is not a v1 WebRTC session")
        if session.started:
            raise EmulatorError(400, ErrorCode.SESSION_STATE, "Session already started")
        try:
            await session.peer.apply_answer(request.sdp.sdp)
        except ValueError as exc:
            if session.closed:  # stopped (or timed out) while the answer was being applied
                self.registry.get(session.session_id, owner)  # raises "not found (closed)"
            raise _bad(str(exc)) from None
        session.started = True
        session.touch()
        return None

    async def ice(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.ice``: a trickled browser candidate (before or after start)."""
        request = _validate(IceRequest, body)
        session = self.registry.get(request.session_id, owner)
        if session.peer is None:
            raise EmulatorError(400, ErrorCode.SESSION_STATE, "Session is not a v1 WebRTC session")
        try:
            await session.peer.add_candidate(request.candidate.candidate)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        return None

    async def task(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.task``: queue speech; answers with ``task_id`` and ``duration_ms``."""
        request = _validate(TaskRequest, body)
        session = self.registry.get(request.session_id, owner)
        text = request.text
        if not text.strip():
            raise _bad("text must not be empty")
        if len(text) > self.max_text_length:
            raise _bad(f"text is longer than {self.max_text_length} characters")
        if not session.started:
            raise EmulatorError(400, ErrorCode.SESSION_STATE, "Session is not started")
        session.touch()
        spoken = chat_reply(text) if request.task_type == "chat" else text
        state = session.state
        duration = estimate_duration_ms(spoken, state.voice_rate)
        task_id = secrets.token_hex(12)
        utterance = Utterance(task_id, spoken, duration, pitch=state.voice_pitch)
        prepared = session.prepare_speech(utterance, self.tts_latency)
        session.tasks += 1
        if request.task_mode != "async":  # sync (the default): answer once speech is queued
            await asyncio.wait({prepared})
        return {"task_id": task_id, "duration_ms": duration}

    async def stop(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.stop``: close the session and its peer."""
        session = self._session(owner, body)
        await self.registry.close(session, "stopped")
        return None

    async def interrupt(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.interrupt``: cut current and queued speech at once."""
        session = self._session(owner, body)
        session.interrupt()
        session.touch()
        return None

    async def keep_alive(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.keep_alive``: reset the idle timer."""
        session = self._session(owner, body)
        session.touch()
        return None

    async def list_sessions(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.list``: this key's live sessions."""
        return {
            "sessions": [
                {"session_id": s.session_id, "status": s.status, "created_at": s.created_at}
                for s in self.registry.list_for(owner)
            ]
        }

    async def create_token(self, owner: str, body: dict[str, Any], token: str | None) -> Any:
        """``streaming.create_token``: a short-lived bearer token acting for this key."""
        return {"token": self.tokens.mint(owner)}
