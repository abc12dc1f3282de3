"""StreamingClient: the REST half of the SDK (httpx, auth, retries, one method per endpoint)."""

# ``timeout=`` below is httpx's per-request timeout (contract API), not an asyncio deadline.
# ruff: noqa: ASYNC109

from __future__ import annotations

import functools
import logging
import os
import platform
import ssl
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from . import _retry
from ._errors import ClientClosedError, ConfigurationError
from ._models import (
    IceCandidate,
    IceRequest,
    NewSessionInfo,
    NewSessionRequest,
    Quality,
    SessionDescription,
    SessionIdRequest,
    SessionList,
    SessionSummary,
    StartSessionRequest,
    TaskInfo,
    TaskMode,
    TaskRequest,
    TaskType,
    TokenInfo,
    VideoEncoding,
    VoiceSettings,
)
from ._realtime_api import RealtimeAPI
from ._response import decode, parse
from ._transport import HttpCore
from ._version import __version__

if TYPE_CHECKING:
    from typing import Self

    from ._session import Session

__all__ = ["DEFAULT_BASE_URL", "StreamingClient"]

DEFAULT_BASE_URL = "https://api.heygen.com"
API_KEY_ENV = "HEYGEN_API_KEY"
BASE_URL_ENV = "HEYGEN_BASE_URL"

logger = logging.getLogger("heygen_streaming")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once (it costs ~20 ms per client)."""
    return httpx.create_ssl_context()


def _user_agent() -> str:
    return (
        f"heygen-streaming/{__version__} python/{platform.python_version()} "
        f"httpx/{httpx.__version__}"
    )


class StreamingClient(RealtimeAPI):
    """Async client for HeyGen's Streaming API v1.

    Args:
        api_key: API key sent as ``X-Api-Key``; defaults to ``$HEYGEN_API_KEY``.
        base_url: service root; ``None`` means ``$HEYGEN_BASE_URL`` or
            ``https://api.heygen.com``.
        token: a session token from ``streaming.create_token``, sent as
            ``Authorization: Bearer``; used instead of the API key.
        timeout: default per-request timeout in seconds (``None``: no timeout).
        max_retries: retries after the first attempt (``0`` disables retrying).
        http_client: an ``httpx.AsyncClient`` to use; it is not closed by this client.

    Every endpoint method also takes ``timeout=`` (seconds) overriding the default for that
    call; ``None`` there means "the client's default".

    A client is single use: ``async with StreamingClient() as client: ...`` (or call
    `aclose`); once closed it refuses further calls with `ClientClosedError`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if token is not None and api_key is not None:
            raise ConfigurationError("pass either api_key or token, not both")
        if token is not None:
            if not token:
                raise ConfigurationError("token is empty")
            auth = {"Authorization": f"Bearer {token}"}
        else:
            key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
            if not key:
                raise ConfigurationError(
                    "no API key: pass api_key=..., set the HEYGEN_API_KEY environment "
                    "variable, or pass token=... (from streaming.create_token)"
                )
            auth = {"X-Api-Key": key}
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        base_url = base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                "base_url (or $HEYGEN_BASE_URL) must start with http:// or https://"
            )
        if timeout is not None and timeout <= 0:
            raise ConfigurationError("timeout must be positive (or None for no timeout)")
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")

        self._base_url = base_url
        self._headers = {
            **auth,
            "Accept": "application/json",
            "User-Agent": _user_agent(),
        }
        self._timeout = timeout
        self._max_retries = max_retries
        self._owns_http = http_client is None
        self._http = (
            http_client if http_client is not None else httpx.AsyncClient(verify=_ssl_context())
        )
        self._core = HttpCore(
            self._http,
            base_url,
            self._headers,
            timeout=timeout,
            max_retries=max_retries,
            check_open=self._check_open,
        )
        self._entered = False
        self._closed = False

    # -- properties -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The service root, without a trailing slash."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """True once `aclose` ran."""
        return self._closed

    @property
    def timeout(self) -> float | None:
        """Default per-request timeout in seconds."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._max_retries

    def __repr__(self) -> str:
        return f"StreamingClient(base_url={self._base_url!r})"

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._closed:
            raise ClientClosedError(
                "this StreamingClient is closed; a client is single use, create a new one"
            )
        if self._entered:
            raise ClientClosedError(
                "this StreamingClient was already entered; a client is single use"
            )
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (idempotent). An injected ``http_client`` stays open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                "this StreamingClient is closed; a client is single use, create a new one"
            )

    # -- endpoints --------------------------------------------------------------------

    async def new_session(
        self,
        avatar: str | None = None,
        voice: str | VoiceSettings | Mapping[str, Any] | None = None,
        quality: Quality | str | None = "high",
        *,
        video_encoding: VideoEncoding | str | None = None,
        knowledge_base: str | None = None,
        disable_idle_timeout: bool | None = None,
        activity_idle_timeout: int | None = None,
        timeout: float | None = None,
        **extra: Any,
    ) -> NewSessionInfo:
        """``streaming.new``: create a session; returns its SDP offer and ICE servers.

        ``avatar`` is sent as ``avatar_name``; ``voice`` is a voice id, a dict or
        `VoiceSettings`. Other keyword arguments pass through to the body.
        Never retried once the request may have reached the server.
        """
        body = NewSessionRequest.model_validate(
            {
                "quality": quality,
                "avatar_name": avatar,
                "voice": _voice(voice),
                "video_encoding": video_encoding,
                "knowledge_base": knowledge_base,
                "disable_idle_timeout": disable_idle_timeout,
                "activity_idle_timeout": activity_idle_timeout,
                **extra,
            }
        ).to_json()
        data = await self._post("streaming.new", body, timeout=timeout)
        return parse(NewSessionInfo, data, "streaming.new")

    async def start_session(
        self,
        session_id: str,
        answer_sdp: str | SessionDescription | Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> None:
        """``streaming.start``: send the SDP answer (a string means ``type="answer"``)."""
        if isinstance(answer_sdp, str):
            sdp = SessionDescription(type="answer", sdp=answer_sdp)
        elif isinstance(answer_sdp, SessionDescription):
            sdp = answer_sdp
        else:
            sdp = SessionDescription.model_validate(dict(answer_sdp))
        body = StartSessionRequest(session_id=session_id, sdp=sdp).to_json()
        await self._post("streaming.start", body, timeout=timeout)

    async def submit_ice(
        self,
        session_id: str,
        candidate: IceCandidate | Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> None:
        """``streaming.ice``: send one local ICE candidate (``RTCIceCandidate.toJSON()``)."""
        cand = (
            candidate
            if isinstance(candidate, IceCandidate)
            else IceCandidate.model_validate(dict(candidate))
        )
        body = IceRequest(session_id=session_id, candidate=cand).to_json()
        await self._post("streaming.ice", body, timeout=timeout)

    async def send_task(
        self,
        session_id: str,
        text: str,
        task_type: TaskType | str = "repeat",
        task_mode: TaskMode | str | None = "sync",
        *,
        timeout: float | None = None,
    ) -> TaskInfo:
        """``streaming.task``: make the avatar speak ``text`` (or answer it, ``chat``).

        Never retried once the request may have reached the server.
        """
        body = TaskRequest.model_validate(
            {
                "session_id": session_id,
                "text": text,
                "task_type": task_type,
                "task_mode": task_mode,
            }
        ).to_json()
        data = await self._post("streaming.task", body, timeout=timeout)
        return parse(TaskInfo, data, "streaming.task")

    async def interrupt(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.interrupt``: stop the current speech."""
        await self._session_call("streaming.interrupt", session_id, timeout)

    async def keep_alive(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.keep_alive``: reset the session's idle timer."""
        await self._session_call("streaming.keep_alive", session_id, timeout)

    async def stop_session(self, session_id: str, *, timeout: float | None = None) -> None:
        """``streaming.stop``: end the session."""
        await self._session_call("streaming.stop", session_id, timeout)

    async def list_sessions(self, *, timeout: float | None = None) -> list[SessionSummary]:
        """``streaming.list``: the account's open sessions."""
        data = await self._post("streaming.list", {}, timeout=timeout)
        if isinstance(data, list):
            data = {"sessions": data}
        return parse(SessionList, data, "streaming.list").sessions

    async def create_token(self, *, timeout: float | None = None) -> str:
        """``streaming.create_token``: a single-use token for ``token=`` clients."""
        data = await self._post("streaming.create_token", {}, timeout=timeout)
        return parse(TokenInfo, data, "streaming.create_token").token

    def session(
        self,
        avatar: str | None = None,
        voice: str | VoiceSettings | dict[str, Any] | None = None,
        quality: Quality | str = "high",
        *,
        connect_timeout: float = 15.0,
        **options: Any,
    ) -> Session:
        """A high-level `Session`; use it as ``async with client.session(...) as s``."""
        from ._session import Session

        return Session(
            self,
            avatar=avatar,
            voice=voice,
            quality=quality,
            connect_timeout=connect_timeout,
            **options,
        )

    # -- transport --------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        idempotent: bool,
        timeout: float | None,
    ) -> httpx.Response:
        """Send one API call and return its final response, of any HTTP status.

        The generic core under every endpoint (v1 and v3): auth headers, one total deadline
        for the whole call (``timeout=None``: the client's default), retries with backoff
        and jitter honouring ``Retry-After`` (non-idempotent calls only when the request
        never left), no redirects, a body size cap, one DEBUG line per attempt. The caller
        decodes the body (its envelope and errors).

        Args:
            method: ``"GET"``, ``"POST"``, ...
            path: from the base URL, e.g. ``"/v1/streaming.new"``.
            endpoint: the name used in logs and errors, e.g. ``"streaming.new"``.
            json: the JSON body (``None``: no body).
            idempotent: whether retrying after the request may have arrived is safe.
            timeout: total seconds for the call, retries included.

        Raises:
            APIConnectionError, APITimeoutError: no usable response.
            ResponseTooLargeError: the body is over the cap.
            ClientClosedError: the client is closed.
        """
        sent = await self._core.send(
            method, path, endpoint=endpoint, json=json, idempotent=idempotent, timeout=timeout
        )
        return sent.response

    def _url(self, path: str) -> str:
        """Absolute URL of ``path``, for a request made outside `_send` (a stream)."""
        return self._core.url(path)

    async def _session_call(self, endpoint: str, session_id: str, timeout: float | None) -> None:
        body = SessionIdRequest(session_id=session_id).to_json()
        await self._post(endpoint, body, timeout=timeout)

    async def _post(self, endpoint: str, body: dict[str, Any], *, timeout: float | None) -> Any:
        """POST ``body`` to ``/v1/<endpoint>``; return the v1 envelope's ``data``."""
        sent = await self._core.send(
            "POST",
            f"/v1/{endpoint}",
            endpoint=endpoint,
            json=body,
            idempotent=endpoint not in _retry.NON_IDEMPOTENT,
            timeout=timeout,
        )
        return decode(sent.response, endpoint)


# -- helpers ------------------------------------------------------------------------------


def _voice(voice: str | VoiceSettings | Mapping[str, Any] | None) -> VoiceSettings | None:
    if voice is None or isinstance(voice, VoiceSettings):
        return voice
    if isinstance(voice, str):
        return VoiceSettings(voice_id=voice)
    return VoiceSettings.model_validate(dict(voice))
