"""HeyGen Streaming API v1: `V1API`, one method per ``/v1/streaming.*`` endpoint.

`StreamingClient` owns one `V1API` over its `Transport` and forwards its public endpoint
methods to it. Bodies are built from explicit, typed parameters (``options``); answers are
decoded from the v1 ``{code, message, data}`` envelope (``envelope``). The calls a
session's connect makes load no pydantic for plain values (``options``, ``created``); the
models are imported where one is built, and ``preload`` says when a fresh process loads them.
"""

# ``timeout=`` is the per-call deadline of the public API, not an asyncio timeout.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import APIError
from .._http.decode import parse
from .._http.trace import send_then_load
from . import preload
from .created import CreatedSession
from .enums import QualityName, TaskModeName, TaskTypeName, VideoEncodingName
from .envelope import decode
from .options import (
    already_started,
    already_stopped,
    ice_body,
    new_session_body,
    session_body,
    start_body,
    task_body,
)

if TYPE_CHECKING:
    from .._http.transport import Transport
    from .enums import Quality, TaskMode, TaskType, VideoEncoding
    from .models import (
        IceCandidate,
        NewSessionInfo,
        SessionDescription,
        SessionSummary,
        TaskInfo,
        VoiceSettings,
    )

__all__ = ["NON_IDEMPOTENT", "V1API"]

logger = logging.getLogger("heygen_streaming")

NON_IDEMPOTENT = frozenset({"streaming.new", "streaming.task"})
"""Endpoints retried only when the request never left (they cost money / repeat speech)."""


class V1API:
    """The ``/v1/streaming.*`` calls, sent through the client's `Transport`."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def new_session(
        self,
        avatar: str | None = None,
        voice: str | VoiceSettings | Mapping[str, Any] | None = None,
        quality: Quality | QualityName | None = "high",
        *,
        video_encoding: VideoEncoding | VideoEncodingName | None = None,
        knowledge_base: str | None = None,
        disable_idle_timeout: bool | None = None,
        activity_idle_timeout: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> NewSessionInfo:
        """``streaming.new``: create a session; returns its SDP offer and ICE servers.

        Args:
            avatar: sent as ``avatar_name`` (what HeyGen's own SDKs send).
            voice: a voice id, or `VoiceSettings` (a dict of its fields is accepted too).
            quality: ``"high"``, ``"medium"`` or ``"low"`` (``None``: the service's default).
            video_encoding: ``"H264"`` or ``"VP8"``.
            knowledge_base: a prompt for ``chat`` tasks.
            disable_idle_timeout: keep the session open without activity.
            activity_idle_timeout: idle seconds before the service closes it (30..3600).
            extra_body: wire fields the SDK does not model, merged into the body as is.
            timeout: deadline of this call in seconds.

        Bad values raise `ConfigurationError` before any request. Never retried once the
        request may have reached the server (a second call opens, and bills, a second session).
        """
        created = await self._create_session(
            avatar=avatar,
            voice=voice,
            quality=quality,
            video_encoding=video_encoding,
            knowledge_base=knowledge_base,
            disable_idle_timeout=disable_idle_timeout,
            activity_idle_timeout=activity_idle_timeout,
            extra_body=extra_body,
            timeout=timeout,
        )
        return created.model()

    async def _create_session(
        self, /, *, timeout: float | None = None, **options: Any
    ) -> CreatedSession:
        """`new_session` as a session's connect needs it: no `NewSessionInfo` built yet."""
        body = new_session_body(**options)
        data = await self._call("streaming.new", body, timeout=timeout)
        return CreatedSession.parse(data)

    async def start_session(
        self,
        session_id: str,
        answer_sdp: str | SessionDescription | Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> None:
        """``streaming.start``: send the SDP answer (a string means ``type="answer"``).

        When a retry is refused as "already started", an earlier attempt that may have
        landed did start it: that counts as success.
        """
        body = start_body(session_id, answer_sdp) if isinstance(answer_sdp, str) else None
        if body is None:
            from .models import SessionDescription, StartSessionRequest

            if isinstance(answer_sdp, str):
                sdp = SessionDescription(type="answer", sdp=answer_sdp)
            elif isinstance(answer_sdp, SessionDescription):
                sdp = answer_sdp
            else:
                sdp = SessionDescription.model_validate(dict(answer_sdp))
            body = StartSessionRequest(session_id=session_id, sdp=sdp).to_json()
        await self._call("streaming.start", body, timeout=timeout, settled=already_started)

    async def submit_ice(
        self,
        session_id: str,
        candidate: IceCandidate | Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> None:
        """``streaming.ice``: send one local ICE candidate (``RTCIceCandidate.toJSON()``)."""
        body = ice_body(session_id, candidate)
        if body is None:
            from .models import IceCandidate, IceRequest

            cand = (
                candidate
                if isinstance(candidate, IceCandidate)
                else IceCandidate.model_validate(dict(candidate))
            )
            body = IceRequest(session_id=session_id, candidate=cand).to_json()
        await self._call("streaming.ice", body, timeout=timeout)

    async def send_task(
        self,
        session_id: str,
        text: str,
        task_type: TaskType | TaskTypeName = "repeat",
        task_mode: TaskMode | TaskModeName | None = "sync",
        *,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> TaskInfo:
        """``streaming.task``: make the avatar speak ``text`` (``chat``: answer it).

        ``text`` must be non-blank and at most `MAX_TEXT_LENGTH` characters; bad values
        raise `ConfigurationError` before any request. Never retried once the request may
        have reached the server (the avatar would say it twice).
        """
        body = task_body(
            session_id, text, task_type=task_type, task_mode=task_mode, extra_body=extra_body
        )
        call = self._call("streaming.task", body, timeout=timeout)
        task, loading = send_then_load(call, preload.models_loader())
        try:
            await loading
            data = await task
        finally:
            task.cancel()  # only if this was cancelled before it ended
        from .models import TaskInfo

        return parse(TaskInfo, {} if data is None else data, "streaming.task")

    async def interrupt(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.interrupt``: stop the current speech."""
        await self._session_call("streaming.interrupt", session_id, timeout)

    async def keep_alive(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.keep_alive``: reset the session's idle timer."""
        await self._session_call("streaming.keep_alive", session_id, timeout)

    async def stop_session(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.stop``: end the session.

        When a retry is refused as "not found" or "closed", an earlier attempt that may
        have landed did stop it: that counts as success.
        """
        await self._session_call("streaming.stop", session_id, timeout, settled=already_stopped)

    async def list_sessions(self, *, timeout: float | None = None) -> list[SessionSummary]:
        """``GET streaming.list``: the account's open sessions."""
        data = await self._call("streaming.list", None, method="GET", timeout=timeout)
        if data is None:
            return []
        if isinstance(data, list):
            data = {"sessions": data}
        from .models import SessionList

        return parse(SessionList, data, "streaming.list").sessions

    async def create_token(self, *, timeout: float | None = None) -> str:
        """``streaming.create_token``: a single-use token for ``token=`` clients."""
        data = await self._call("streaming.create_token", {}, timeout=timeout)
        from .models import TokenInfo

        return parse(TokenInfo, data, "streaming.create_token").token

    # -- v1 envelope --------------------------------------------------------------------

    async def _session_call(
        self,
        endpoint: str,
        session_id: str,
        timeout: float | None,
        settled: Callable[[APIError], bool] | None = None,
    ) -> None:
        body = session_body(session_id)
        if body is None:
            from .models import SessionIdRequest

            body = SessionIdRequest(session_id=session_id).to_json()
        await self._call(endpoint, body, timeout=timeout, settled=settled)

    async def _call(
        self,
        endpoint: str,
        body: dict[str, Any] | None,
        *,
        timeout: float | None,
        method: str = "POST",
        settled: Callable[[APIError], bool] | None = None,
    ) -> Any:
        """Call ``/v1/<endpoint>``; return the v1 envelope's ``data``.

        ``settled(error)`` says whether an error answer to a *retry* means an earlier
        attempt, which may have landed, already did the work; it then counts as success.
        """
        sent = await self._transport.send(
            method,
            f"/v1/{endpoint}",
            endpoint=endpoint,
            json=body,
            idempotent=endpoint not in NON_IDEMPOTENT,
            timeout=timeout,
        )
        try:
            return decode(sent.response, endpoint)
        except APIError as exc:
            if settled is not None and sent.landed_before and settled(exc):
                logger.debug("%s: %s after a retry; an earlier attempt landed", endpoint, exc)
                return None
            raise
