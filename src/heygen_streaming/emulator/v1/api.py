"""HeyGen Streaming API v1 (``/v1/streaming.*``): the route table and its handlers.

Bodies and codes come from `heygen_streaming.emulator.v1.wire` (captured shapes). Each
session gets one aiortc peer that makes a pion-shaped offer (`heygen_streaming.emulator.v1.peer`).
With ``EmulatorOptions.retired`` every route answers HTTP 410 ``endpoint_sunset``, as
HeyGen's servers have done since 2026.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import zlib
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..avatar import RESOLUTIONS, AvatarState, face_layers
from ..avatar.engine import speech_engine
from ..avatar.speech import Utterance, chat_reply
from ..avatar.voices import voice_for
from ..routes import ApiVersion, Call, EmulatorError, Principal, Route
from ..sessions import EmulatedSession, SessionLimitReached, UnknownSession
from .peer import EmulatorPeer
from .wire import (
    MESSAGES,
    STATE_CODES,
    Code,
    IceRequest,
    NewRequest,
    SessionIdRequest,
    StartRequest,
    TaskRequest,
    error_body,
    success,
    token_body,
)

__all__ = ["DEFAULT_QUALITY", "V1Api", "v1_error"]

logger = logging.getLogger("heygen_streaming.emulator")

DEFAULT_QUALITY = "medium"
M = TypeVar("M", bound=BaseModel)


def v1_error(code: int, status: int, message: str | None = None) -> EmulatorError:
    """A v1 error answer with the captured message for ``code`` unless one is given."""
    return EmulatorError(status, code, message or MESSAGES.get(code, "error"))


def invalid_params() -> EmulatorError:
    """``400006 Invalid params`` (captured for a start without ``sdp``)."""
    return v1_error(Code.INVALID_PARAMS, 400)


def state_wrong(state: str) -> EmulatorError:
    """``session state wrong: <state>`` (10005 "closed" captured, the others inferred)."""
    status = 404 if state == "closed" else 400
    return v1_error(
        STATE_CODES.get(state, Code.STATE_CLOSED), status, f"session state wrong: {state}"
    )


def _validate(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        logger.debug("invalid params: %s", exc.errors(include_url=False, include_input=False))
        raise invalid_params() from None


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


class V1Api(ApiVersion):
    """``/v1/streaming.*`` as HeyGen served it (see the module docstring)."""

    name = "v1"

    def routes(self) -> Sequence[Route]:
        """The v1 route table: POST for every call, GET (and POST) for ``streaming.list``."""
        post = ("POST",)
        table = [
            Route(post, "/v1/streaming.new", "new", self.new),
            Route(post, "/v1/streaming.start", "start", self.start),
            Route(post, "/v1/streaming.ice", "ice", self.ice),
            Route(post, "/v1/streaming.task", "task", self.task),
            Route(post, "/v1/streaming.stop", "stop", self.stop),
            Route(post, "/v1/streaming.interrupt", "interrupt", self.interrupt),
            Route(post, "/v1/streaming.keep_alive", "keep_alive", self.keep_alive),
            Route(("GET", "POST"), "/v1/streaming.list", "list", self.list_sessions, "none"),
            Route(post, "/v1/streaming.create_token", "create_token", self.create_token, "none"),
        ]
        return table

    # -- wire shapes ------------------------------------------------------------------------
    def authenticate(self, request: web.Request, endpoint: str) -> Principal:
        """``X-Api-Key``, or ``Authorization: Bearer`` with a token (not for create_token)."""
        if self.app.options.retired:
            raise EmulatorError(410, "endpoint_sunset", "This endpoint has been retired.")
        principal = self.app.principal_for(request, allow_token=endpoint != "create_token")
        if principal is None:
            raise self.unauthorized()
        return principal

    def unauthorized(self) -> EmulatorError:
        """``401 {"code": 400112, "message": "Unauthorized"}`` (captured)."""
        return v1_error(Code.UNAUTHORIZED, 401)

    def invalid(self, detail: str) -> EmulatorError:
        """Malformed JSON is ``400006 Invalid params`` too."""
        logger.debug("invalid request: %s", detail)
        return invalid_params()

    def error_body(self, err: EmulatorError) -> dict[str, Any]:
        """``{"code", "message"}``; the retired answer uses HeyGen's newer error envelope.

        Errors raised by the core (unknown route, wrong method, body too large) carry the
        HTTP status as their code: their v1 bodies were never captured.
        """
        if err.status == 410:
            return {"error": {"code": err.code, "message": err.message}}
        return error_body(err.code, err.message)

    def fault_body(self, kind: str, status: int) -> tuple[int, dict[str, Any]]:
        """Injected faults in v1 envelopes."""
        if kind == "bad_envelope":
            return 200, {"code": Code.SUCCESS, "data": "???", "message": "success"}
        if kind == "error_code":
            return 200, error_body(Code.INTERNAL, "Injected failure")
        code = {401: Code.UNAUTHORIZED, 429: Code.RATE_LIMIT}.get(status, Code.INTERNAL)
        return status, error_body(code, f"Injected HTTP {status}")

    # -- helpers ------------------------------------------------------------------------------
    def _session(self, call: Call, session_id: str) -> EmulatedSession:
        try:
            return self.app.registry.get(session_id, call.owner)
        except UnknownSession as exc:
            if exc.closed_reason is not None:
                raise state_wrong("closed") from None
            raise v1_error(Code.SESSION_NOT_FOUND, 404) from None

    # -- endpoints ------------------------------------------------------------------------------
    async def new(self, call: Call) -> web.StreamResponse:
        """``streaming.new``: create a session whose peer makes the offer."""
        request = _validate(NewRequest, call.body)
        options = self.app.options
        quality = request.quality or DEFAULT_QUALITY
        idle: float | None = self.app.registry.idle_timeout
        if request.activity_idle_timeout is not None:
            if not 30 <= request.activity_idle_timeout <= 3600:
                raise invalid_params()
            idle = float(request.activity_idle_timeout)
        if request.disable_idle_timeout:
            idle = None
        avatar = request.avatar_name or request.avatar_id or "emulator"
        if options.avatars is not None and avatar not in options.avatars:
            raise v1_error(Code.AVATAR_NOT_FOUND, 400)
        try:
            with self.app.registry.reserve(call.owner):
                token = call.principal.token
                if token is not None and not self.app.tokens.use_for_new(token):
                    raise self.unauthorized()
                session, sdp = await self._create(call, request, quality, avatar, idle)
        except SessionLimitReached:
            raise v1_error(Code.CONCURRENT_LIMIT, 400) from None
        v2 = session.peer is None
        base = self.app.base_url
        data = {
            "session_id": session.session_id,
            "sdp": {"type": "offer", "sdp": sdp} if sdp is not None else None,
            "access_token": secrets.token_urlsafe(24) if v2 else None,
            "url": f"{base.replace('http', 'ws', 1)}/v2-unsupported" if v2 else None,
            "ice_servers": None,
            "ice_servers2": self.app.ice_servers_for(call.request),
            "is_paid": False,
            "session_duration_limit": int(self.app.registry.duration_limit),
            "realtime_endpoint": None,
        }
        return _json(success(data))

    async def _create(
        self, call: Call, request: NewRequest, quality: str, avatar: str, idle: float | None
    ) -> tuple[EmulatedSession, str | None]:
        voice = request.voice
        seed = zlib.crc32(f"{avatar}/{voice.voice_id if voice else ''}".encode())
        width, height = RESOLUTIONS[quality]
        loop = asyncio.get_running_loop()  # draw a new avatar off the event loop
        await loop.run_in_executor(None, face_layers, width, height, avatar)
        await loop.run_in_executor(None, speech_engine)  # loaded once, before the first task
        state = AvatarState(quality=quality, avatar=avatar, seed=seed, stamp=self.app.options.stamp)
        state.speech_voice = voice_for(voice.voice_id if voice else None)
        state.voice_rate = float(voice.rate) if voice and voice.rate else 1.0
        peer: EmulatorPeer | None = None
        sdp: str | None = None
        if (request.version or "").lower() != "v2":
            options = self.app.options
            peer = EmulatorPeer(
                state,
                video_codec=request.video_encoding or "VP8",
                rtcp_feedback=options.rtcp_feedback,
                keyframe_interval=options.keyframe_interval,
                retransmit=options.retransmit,
            )
            try:
                sdp = await peer.make_offer()
            except BaseException:
                await peer.close()
                raise
        session = self.app.registry.add(
            owner=call.owner,
            quality=quality,
            avatar=avatar,
            state=state,
            peer=peer,
            idle_timeout=idle,
            max_queued=self.app.options.max_queued_tasks,
        )
        return session, sdp

    async def start(self, call: Call) -> web.StreamResponse:
        """``streaming.start``: apply the client's answer."""
        request = _validate(StartRequest, call.body)
        session = self._session(call, request.session_id)
        if request.sdp.type != "answer" or session.peer is None:
            raise invalid_params()
        if session.started:
            raise state_wrong(session.status)
        try:
            await session.peer.apply_answer(request.sdp.sdp)
        except ValueError:
            if session.closed:  # stopped (or timed out) while the answer was being applied
                raise state_wrong("closed") from None
            raise v1_error(Code.PEER_START_FAILED, 400) from None
        session.started = True
        session.touch()
        return _json(success())

    async def ice(self, call: Call) -> web.StreamResponse:
        """``streaming.ice``: a trickled client candidate (before or after start)."""
        request = _validate(IceRequest, call.body)
        session = self._session(call, request.session_id)
        if session.peer is None:
            raise invalid_params()
        try:
            await session.peer.add_candidate(request.candidate.candidate)
        except ValueError:
            raise invalid_params() from None
        return _json(success())

    async def task(self, call: Call) -> web.StreamResponse:
        """``streaming.task``: queue speech; answers with ``task_id`` and ``duration_ms``."""
        request = _validate(TaskRequest, call.body)
        session = self._session(call, request.session_id)
        text = request.text
        if not text.strip() or len(text) > self.app.options.max_text_length:
            raise invalid_params()
        if not session.started:
            raise state_wrong("new")
        if session.queued_tasks >= session.max_queued:
            raise v1_error(Code.RATE_LIMIT, 429, "Exceed rate limit: too many queued tasks")
        session.touch()
        spoken = text if request.task_type == "repeat" else chat_reply(text)
        task_id = secrets.token_hex(12)
        # Rendering starts now, on the speech engine's thread (never on this loop).
        state = session.state
        utterance = Utterance(task_id, spoken, voice=state.speech_voice, rate=state.voice_rate)
        prepared = session.prepare_speech(utterance, self.app.options.tts_latency)
        session.tasks += 1
        if request.task_mode != "async":  # sync (the default): answer once speech is queued
            await asyncio.wait({prepared})
        # The exact length, from the rendered speech (an interrupt ends the wait early).
        duration = round(await utterance.wait_timed())
        return _json(success({"task_id": task_id, "duration_ms": duration}))

    async def stop(self, call: Call) -> web.StreamResponse:
        """``streaming.stop``: close the session and its peer."""
        session = self._session(call, _validate(SessionIdRequest, call.body).session_id)
        await self.app.registry.close(session, "stopped")
        return _json(success())

    async def interrupt(self, call: Call) -> web.StreamResponse:
        """``streaming.interrupt``: cut current and queued speech at once."""
        session = self._session(call, _validate(SessionIdRequest, call.body).session_id)
        session.interrupt()
        session.touch()
        return _json(success())

    async def keep_alive(self, call: Call) -> web.StreamResponse:
        """``streaming.keep_alive``: reset the idle timer."""
        session = self._session(call, _validate(SessionIdRequest, call.body).session_id)
        session.touch()
        return _json(success())

    async def list_sessions(self, call: Call) -> web.StreamResponse:
        """``streaming.list`` (GET as documented; POST kept): this key's live sessions."""
        sessions = [
            {"session_id": s.session_id, "status": s.status, "created_at": int(s.created_at)}
            for s in self.app.registry.list_for(call.owner)
        ]
        return _json(success({"sessions": sessions}))

    async def create_token(self, call: Call) -> web.StreamResponse:
        """``streaming.create_token``: ``{"error": null, "data": {"token": ...}}`` (captured)."""
        return _json(token_body(self.app.tokens.mint(call.owner)))
