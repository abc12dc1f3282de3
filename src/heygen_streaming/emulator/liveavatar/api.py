"""LiveAvatar's REST API (``/v1/sessions/*``, ``/v1/avatars/*``, ``/v1/voices``,
``/v1/users/credits``) and the LITE socket route, as an `ApiVersion` of the emulator.

======  ==================================  ===============  ============================
method  path                                auth             fault-injection name
======  ==================================  ===============  ============================
POST    ``/v1/sessions/token``              API key          ``liveavatar_token``
POST    ``/v1/sessions/start``              session token    ``liveavatar_start``
POST    ``/v1/sessions/stop``               either (*)       ``liveavatar_stop``
POST    ``/v1/sessions/keep-alive``         session token    ``liveavatar_keep_alive``
GET     ``/v1/sessions?type=``              API key          ``liveavatar_list``
GET     ``/v1/sessions/{id}``               API key          ``liveavatar_get``
GET     ``/v1/sessions/{id}/transcript``    either           ``liveavatar_transcript``
GET     ``/v1/avatars/public``              API key          ``liveavatar_avatars``
GET     ``/v1/avatars/{id}``                API key          ``liveavatar_avatar``
GET     ``/v1/voices``, ``/v1/voices/{id}``  API key          ``liveavatar_voices``
GET     ``/v1/users/credits``               API key          ``liveavatar_credits``
GET     ``/liveavatar/ws/{id}?token=``      socket token     ``liveavatar_ws``
======  ==================================  ===============  ============================

(*) an API key needs ``{"session_id"}`` in the body. An API key where a session token
belongs (and the reverse) is 403; a wrong or missing credential 401. Every endpoint is
rate limited per caller (`LiveAvatarOptions.rate_limit` a second): 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..routes import ApiVersion, Call, EmulatorError, Principal, Route
from .catalog import AVATARS, VOICES, avatar_by_id, voice_by_id
from .media import MediaHub
from .options import LiveAvatarOptions
from .ratelimit import RateLimiter
from .sessions import (
    CREDITS_PER_MINUTE,
    ConcurrencyLimitReached,
    LaRegistry,
    LaSession,
    TooManyUnstarted,
)
from .tokens import SessionTokenError, SessionTokens
from .wire import (
    StopRequest,
    TokenRequest,
    envelope,
    error_body,
    int_query,
    la_error,
    page,
    query_error,
    unprocessable,
    validate,
)

if TYPE_CHECKING:
    from ..app import EmulatorApp

__all__ = ["LiveAvatarApi"]

logger = logging.getLogger("heygen_streaming.emulator")

_KEY_ONLY = frozenset(
    {
        "liveavatar_token",
        "liveavatar_list",
        "liveavatar_get",
        "liveavatar_avatars",
        "liveavatar_avatar",
        "liveavatar_voices",
        "liveavatar_credits",
    }
)
_TOKEN_ONLY = frozenset({"liveavatar_start", "liveavatar_keep_alive"})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(envelope(data), status=status)


class LiveAvatarApi(ApiVersion):
    """LiveAvatar as published (see the module docstring and docs/emulator-liveavatar.md)."""

    name = "liveavatar"
    cors_credentials = True  # the web SDK fetches with credentials: "include"

    def __init__(self, app: EmulatorApp) -> None:
        super().__init__(app)
        options = getattr(app.options, "liveavatar", None)
        self.options = options if isinstance(options, LiveAvatarOptions) else LiveAvatarOptions()
        self.registry = LaRegistry(
            self.options,
            max_sessions=app.registry.max_sessions,
            max_total=app.registry.max_total,
        )
        self.tokens = SessionTokens()
        limit = self.options.rate_limit
        self.limiter = RateLimiter(limit) if limit else None
        self.media = MediaHub(app, self.options, self.registry)
        app.faults._rooms = self.media
        app.app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, _: web.Application) -> None:
        await self.registry.close_all("SERVER_ERROR")

    def routes(self) -> Sequence[Route]:
        """The LiveAvatar route table (``/v1/avatars/public`` before ``/v1/avatars/{id}``)."""
        post, get = ("POST",), ("GET",)
        sid = "/v1/sessions/{session_id}"
        return [
            Route(post, "/v1/sessions/token", "liveavatar_token", self.token),
            Route(post, "/v1/sessions/start", "liveavatar_start", self.start, "none"),
            Route(post, "/v1/sessions/stop", "liveavatar_stop", self.stop, "optional"),
            Route(
                post, "/v1/sessions/keep-alive", "liveavatar_keep_alive", self.keep_alive, "none"
            ),
            Route(get, "/v1/sessions", "liveavatar_list", self.list_sessions, "none"),
            Route(get, sid, "liveavatar_get", self.get_session, "none"),
            Route(get, sid + "/transcript", "liveavatar_transcript", self.transcript, "none"),
            Route(get, "/v1/avatars/public", "liveavatar_avatars", self.avatars, "none"),
            Route(get, "/v1/avatars/{avatar_id}", "liveavatar_avatar", self.avatar, "none"),
            Route(get, "/v1/voices", "liveavatar_voices", self.voices, "none"),
            Route(get, "/v1/voices/{voice_id}", "liveavatar_voices", self.voice, "none"),
            Route(get, "/v1/users/credits", "liveavatar_credits", self.credits, "none"),
            Route(
                get, "/liveavatar/ws/{session_id}", "liveavatar_ws", self.media.lite_socket, "none"
            ),
        ]

    # -- wire shapes ------------------------------------------------------------------------
    def authenticate(self, request: web.Request, endpoint: str) -> Principal:
        """The caller (see the module docstring); then the per-endpoint rate limit."""
        if endpoint == "liveavatar_ws":
            principal = Principal(self.media.socket_session(request).owner)
        else:
            principal = self._credential(request, endpoint)
        if self.limiter is not None:
            wait = self.limiter.check(principal.owner, endpoint)
            if wait is not None:
                retry = str(max(1, math.ceil(wait)))
                raise la_error(
                    429,
                    "Rate limit exceeded",
                    headers={"Retry-After": retry, "X-RateLimit-Reset": retry},
                )
        return principal

    def _credential(self, request: web.Request, endpoint: str) -> Principal:
        has_key = bool(request.headers.get("X-Api-Key", "").strip())
        auth = request.headers.get("Authorization", "").strip()
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if has_key and endpoint not in _TOKEN_ONLY:
            principal = self.app.principal_for(request, allow_token=False)
            if principal is None:
                raise self.unauthorized()
            return principal
        if bearer is not None and endpoint not in _KEY_ONLY:
            return Principal(self._session_for_token(bearer).owner, bearer)
        if has_key:
            raise la_error(403, "This endpoint needs a session token (Authorization: Bearer)")
        if bearer is not None:
            raise la_error(403, "This endpoint needs an API key (X-API-KEY), not a session token")
        raise self.unauthorized()

    def _session_for_token(self, token: str) -> LaSession:
        try:
            claims = self.tokens.verify(token)
        except SessionTokenError as exc:
            raise la_error(401, f"Invalid session token: {exc}") from None
        session = self.registry.find(claims.session_id)
        if session is None or self.tokens.owner_hash(session.owner) != claims.owner_hash:
            raise la_error(401, "Invalid session token: unknown session")
        return session

    def unauthorized(self) -> EmulatorError:
        """401 for a missing or wrong credential."""
        return la_error(401, "Invalid or missing API key")

    def invalid(self, detail: str) -> EmulatorError:
        """A malformed JSON body is FastAPI's 422 ``json_invalid``."""
        return unprocessable([{"type": "json_invalid", "loc": ["body"], "msg": detail}])

    def error_body(self, err: EmulatorError) -> dict[str, Any]:
        """See `heygen_streaming.emulator.liveavatar.wire.error_body`."""
        return error_body(err)

    def fault_body(self, kind: str, status: int) -> tuple[int, dict[str, Any]]:
        """Injected faults in LiveAvatar's envelopes."""
        if kind == "bad_envelope":
            return 200, {"code": 1000, "data": "???", "message": "success"}
        if kind == "error_code":
            return 200, {"code": 500, "data": None, "message": "Injected failure"}
        return status, error_body(la_error(status, f"Injected HTTP {status}"))

    def freeze_media(self, session_id: str | None, frozen: bool) -> int:
        """Freeze (or thaw) the avatars of started LiveAvatar sessions."""
        return self.media.freeze(session_id, frozen)

    async def drop_all(self) -> int:
        """End every LiveAvatar session (SERVER_ERROR)."""
        return await self.registry.close_all("SERVER_ERROR")

    async def reset(self) -> int:
        """End every LiveAvatar session of every key and forget the history (`Emulator.reset`)."""
        ended = await self.registry.close_all("USER_CLOSED")
        self.registry.history.clear()
        return ended

    def describe(self) -> dict[str, Any]:
        """Ids a client may default to, and the limits (``GET /emulator``)."""
        return {
            "avatar_id": AVATARS[0].id,
            "voice_id": VOICES[0].id,
            "max_sessions": self.registry.max_sessions,
        }

    # -- helpers ------------------------------------------------------------------------------
    def _bound(self, call: Call) -> LaSession | None:
        """The session of the session token the call was made with, if any."""
        token = call.principal.token
        return None if token is None else self._session_for_token(token)

    def _own(self, call: Call, session_id: str) -> LaSession:
        bound = self._bound(call)
        if bound is not None:
            if bound.session_id != session_id:
                raise la_error(403, "The session token is for another session")
            return bound
        session = self.registry.find(session_id)
        if session is None or session.owner != call.owner:
            raise la_error(404, "Session not found")
        return session

    # -- sessions -----------------------------------------------------------------------------
    async def token(self, call: Call) -> web.StreamResponse:
        """``POST /v1/sessions/token``: a created session and its session token."""
        request = validate(TokenRequest, call.body)
        avatar = avatar_by_id(str(request.avatar_id))
        if avatar is None:
            raise la_error(404, "Avatar not found")
        ttl = self.app.tokens.ttl
        try:
            session = self.registry.create(
                owner=call.owner, request=request, avatar=avatar, token_ttl=ttl
            )
        except TooManyUnstarted as exc:
            raise la_error(429, f"Too many sessions waiting to start ({exc})") from None
        data: dict[str, Any] = {
            "mode": request.session_mode,
            "avatar_id": avatar.id,
            "is_sandbox": request.is_sandbox,
            "interactivity_type": request.interactivity_type,
        }
        if request.session_mode == "FULL":
            data["agent_type"] = "FULL"
        lifetime = ttl + session.max_duration + 600.0
        token = self.tokens.mint(
            session_id=session.session_id, owner=call.owner, ttl=lifetime, start_session_data=data
        )
        return _json({"session_id": session.session_id, "session_token": token})

    async def start(self, call: Call) -> web.StreamResponse:
        """``POST /v1/sessions/start``: take a slot, open the room, start the avatar (201)."""
        session = self._bound(call)
        assert session is not None  # start takes a session token only
        if session.status == "closed":
            raise la_error(400, "Session has already ended")
        if session.status != "created":
            raise la_error(400, "Session has already been started")
        persona = session.request.avatar_persona
        if persona is not None and persona.voice_id and voice_by_id(persona.voice_id) is None:
            raise la_error(404, "Voice not found")
        if not session.is_sandbox:
            left = self.options.credits - self.registry.credits_used(session.owner)
            if left < CREDITS_PER_MINUTE[session.mode]:
                raise la_error(403, "Insufficient credits")
        try:
            self.registry.start(session)
        except ConcurrencyLimitReached as exc:
            raise la_error(403, str(exc)) from None
        try:
            data = await self.media.start(session, call.request)
        except Exception:
            logger.exception("starting LiveAvatar session media failed")
            await self.registry.close(session, "SERVER_ERROR")
            raise la_error(500, "Could not start the session") from None
        if not session.live:  # stopped while its media was starting
            raise la_error(400, "Session has already ended")
        return _json(data, status=201)

    async def stop(self, call: Call) -> web.StreamResponse:
        """``POST /v1/sessions/stop``: end the session (idempotent), in any state."""
        body = validate(StopRequest, call.body)
        bound = self._bound(call)
        if bound is None and body.session_id is None:
            raise la_error(400, "session_id is required when using an API key")
        session = self._own(call, body.session_id or (bound.session_id if bound else ""))
        await self.registry.close(session, "USER_CLOSED")
        return _json({"session_id": session.session_id, "stop_reason": session.stop_reason})

    async def keep_alive(self, call: Call) -> web.StreamResponse:
        """``POST /v1/sessions/keep-alive``: reset the idle timer of a started session."""
        session = self._bound(call)
        assert session is not None  # keep-alive takes a session token only
        if not session.live:
            raise la_error(400, "Session is not active")
        session.touch()
        return _json(None)

    async def list_sessions(self, call: Call) -> web.StreamResponse:
        """``GET /v1/sessions?type=active|historic`` (paginated)."""
        kind = call.request.query.get("type")
        if kind not in ("active", "historic"):
            error = (
                query_error("type", "missing", "Field required")
                if kind is None
                else query_error("type", "enum", "Input should be 'active' or 'historic'", kind)
            )
            raise unprocessable([error])
        sessions = self.registry.listed(call.owner, "active" if kind == "active" else "historic")
        return _json(page(call.request, [s.entry() for s in sessions]))

    async def get_session(self, call: Call) -> web.StreamResponse:
        """``GET /v1/sessions/{id}``."""
        return _json(self._own(call, call.request.match_info["session_id"]).entry())

    async def transcript(self, call: Call) -> web.StreamResponse:
        """``GET /v1/sessions/{id}/transcript`` (``start_timestamp``/``end_timestamp``)."""
        session = self._own(call, call.request.match_info["session_id"])
        lo = int_query(call.request, "start_timestamp", 0, 0, 2**63)
        hi = int_query(call.request, "end_timestamp", 2**62, 0, 2**63)
        started = session.started_at or session.created_at
        lines = [e.body(started) for e in session.transcript if lo <= int(e.at) <= hi]
        data = {"session_active": session.live, "transcript_data": lines, "next_timestamp": None}
        return _json(data)

    # -- catalogue ------------------------------------------------------------------------------
    async def avatars(self, call: Call) -> web.StreamResponse:
        """``GET /v1/avatars/public``: the emulator's avatars (uuid ids; any is usable)."""
        return _json(page(call.request, [a.body() for a in AVATARS]))

    async def avatar(self, call: Call) -> web.StreamResponse:
        """``GET /v1/avatars/{id}``."""
        avatar = avatar_by_id(call.request.match_info["avatar_id"])
        if avatar is None:
            raise la_error(404, "Avatar not found")
        return _json(avatar.body())

    async def voices(self, call: Call) -> web.StreamResponse:
        """``GET /v1/voices``."""
        return _json(page(call.request, [v.body() for v in VOICES]))

    async def voice(self, call: Call) -> web.StreamResponse:
        """``GET /v1/voices/{id}``."""
        voice = voice_by_id(call.request.match_info["voice_id"])
        if voice is None:
            raise la_error(404, "Voice not found")
        return _json(voice.body())

    async def credits(self, call: Call) -> web.StreamResponse:
        """``GET /v1/users/credits``: the key's balance."""
        used = self.registry.credits_used(call.owner)
        return _json({"credits_left": max(0.0, self.options.credits - used), "credits_used": used})
