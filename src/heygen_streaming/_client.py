"""StreamingClient: configuration and lifecycle of the REST half of the SDK.

The v1 endpoint methods come from `V1Endpoints` (``_v1``), the v3 ones from `RealtimeAPI`
(``_realtime_api``); both send through the client's one `HttpCore` (``_transport``), which
holds the HTTP state (client, base URL, headers, deadline, retries).
"""

# ``timeout=`` below is httpx's per-request timeout (contract API), not an asyncio deadline.

from __future__ import annotations

import functools
import logging
import os
import platform
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import ClientClosedError, ConfigurationError
from ._http.transport import HttpCore
from ._realtime.api import RealtimeAPI
from ._v1.api import V1Endpoints
from ._v1.options import (
    QualityName,
    VideoEncodingName,
    check_credential,
    check_ice_servers,
    new_session_body,
)
from ._v1.stop import SessionRegistry
from ._version import __version__

if TYPE_CHECKING:
    from typing import Self

    from ._v1.enums import Quality, VideoEncoding
    from ._v1.models import IceServer, VoiceSettings
    from ._v1.session import Session

__all__ = ["DEFAULT_BASE_URL", "StreamingClient"]

DEFAULT_BASE_URL = "https://api.heygen.com"
API_KEY_ENV = "HEYGEN_API_KEY"
BASE_URL_ENV = "HEYGEN_BASE_URL"

logger = logging.getLogger("heygen_streaming")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once (it costs ~20 ms per client)."""
    return httpx.create_ssl_context()


class _DeferredSSLContext(ssl.SSLContext):
    """Stands for `_ssl_context` until the first TLS connection, which builds it.

    Loading the CA bundle costs ~20 ms at start-up, and a client of an ``http://`` URL (the
    emulator) never needs it. The TLS calls httpcore makes are delegated to the real
    context; this one holds no CA, so any other use fails verification (closed, not open).
    """

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        _ssl_context().set_alpn_protocols(alpn_protocols)

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return _ssl_context().wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session,
        )

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return _ssl_context().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )


def _user_agent() -> str:
    return (
        f"heygen-streaming/{__version__} python/{platform.python_version()} "
        f"httpx/{httpx.__version__}"
    )


class StreamingClient(V1Endpoints, RealtimeAPI):
    """Async client for HeyGen's Streaming API v1.

    Args:
        api_key: API key sent as ``X-Api-Key``; defaults to ``$HEYGEN_API_KEY``.
        base_url: service root; ``None`` means ``$HEYGEN_BASE_URL`` or
            ``https://api.heygen.com``.
        token: a session token from ``streaming.create_token``, sent as
            ``Authorization: Bearer``; used instead of the API key.
        timeout: default deadline of each call in seconds, retries included (``None``:
            none).
        max_retries: retries after the first attempt (``0`` disables retrying).
        http_client: an ``httpx.AsyncClient`` to use; it is not closed by this client.

    Every endpoint method also takes ``timeout=`` (seconds) overriding the default for that
    call; ``None`` there means "the client's default". The key is stripped of surrounding
    whitespace and must be printable ASCII; it never appears in a message or repr.
    Requests never follow redirects.

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
            auth = {"Authorization": f"Bearer {check_credential(token, 'the token')}"}
        else:
            key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
            if not key or (isinstance(key, str) and not key.strip()):
                raise ConfigurationError(
                    "no API key: pass api_key=..., set the HEYGEN_API_KEY environment "
                    "variable, or pass token=... (from streaming.create_token)"
                )
            what = "the API key" if api_key is not None else "the API key in $HEYGEN_API_KEY"
            auth = {"X-Api-Key": check_credential(key, what)}
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        base_url = base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")) or not base_url.isprintable():
            raise ConfigurationError(
                "base_url (or $HEYGEN_BASE_URL) must start with http:// or https:// "
                "and hold no control characters"
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be positive (or None for no timeout)")
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")

        headers = {**auth, "Accept": "application/json", "User-Agent": _user_agent()}
        self._owns_http = http_client is None
        http = (
            http_client
            if http_client is not None
            else httpx.AsyncClient(verify=_DeferredSSLContext(ssl.PROTOCOL_TLS_CLIENT))
        )
        self._core = HttpCore(
            http,
            base_url,
            headers,
            timeout=timeout,
            max_retries=max_retries,
            check_open=self._check_open,
        )
        self._entered = False
        self._closed = False
        self._sessions = SessionRegistry()  # sessions close before the client does

    # -- properties -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The service root, without a trailing slash."""
        return self._core.base_url

    @property
    def closed(self) -> bool:
        """True once `aclose` ran."""
        return self._closed

    @property
    def timeout(self) -> float | None:
        """Default per-request timeout in seconds."""
        return self._core.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._core.max_retries

    def __repr__(self) -> str:
        return f"StreamingClient(base_url={self._core.base_url!r})"

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
        await self._sessions.aclose()
        await self._close_realtime()
        self._closed = True
        if self._owns_http:
            await self._core.http.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                "this StreamingClient is closed; a client is single use, create a new one"
            )

    # -- high level -------------------------------------------------------------------

    def session(
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
        connect_timeout: float = 15.0,
        watchdog_timeout: float | None = 5.0,
        keep_alive_interval: float | None = None,
        stop_timeout: float = 5.0,
        video_capacity: int = 10,
        audio_capacity: int = 50,
        ice_servers: Sequence[IceServer | dict[str, Any]] | None = None,
        ice_gather_timeout: float | None = None,
    ) -> Session:
        """A high-level `Session`; use it as ``async with client.session(...) as s``.

        ``avatar`` to ``extra_body`` are the ``streaming.new`` options of `new_session`;
        they are checked here, before any request. The others configure the `Session`:

        Args:
            connect_timeout: seconds from ``streaming.new`` to the first media.
            watchdog_timeout: seconds without media before the session counts as dead
                (``None``: no watchdog).
            keep_alive_interval: seconds between ``streaming.keep_alive`` calls (``None``:
                none).
            stop_timeout: bound of the ``streaming.stop`` sent on exit.
            video_capacity: frames a video stream buffers before dropping the oldest.
            audio_capacity: frames an audio stream buffers before dropping the oldest.
            ice_servers: ICE servers to use instead of the service's (``[]``: none).
            ice_gather_timeout: bound of local candidate gathering (``None``: aiortc's).

        Bad values raise `ConfigurationError`; an unknown keyword is a ``TypeError``.
        """
        new_options: dict[str, Any] = {
            "video_encoding": video_encoding,
            "knowledge_base": knowledge_base,
            "disable_idle_timeout": disable_idle_timeout,
            "activity_idle_timeout": activity_idle_timeout,
            "extra_body": extra_body,
        }
        new_session_body(avatar=avatar, voice=voice, quality=quality, **new_options)
        check_ice_servers(ice_servers)
        _check_session_options(
            connect_timeout=connect_timeout,
            watchdog_timeout=watchdog_timeout,
            keep_alive_interval=keep_alive_interval,
            stop_timeout=stop_timeout,
            video_capacity=video_capacity,
            audio_capacity=audio_capacity,
            ice_gather_timeout=ice_gather_timeout,
        )
        from ._v1.session import Session

        return Session(
            self,
            avatar=avatar,
            voice=voice,
            quality=quality,
            connect_timeout=connect_timeout,
            watchdog_timeout=watchdog_timeout,
            keep_alive_interval=keep_alive_interval,
            stop_timeout=stop_timeout,
            video_capacity=video_capacity,
            audio_capacity=audio_capacity,
            ice_servers=ice_servers,
            ice_gather_timeout=ice_gather_timeout,
            **{k: v for k, v in new_options.items() if v is not None},
        )


def _check_session_options(**values: float | None) -> None:
    """Durations must be positive (``None``: off, where allowed); capacities at least 1."""
    for name, value in values.items():
        if value is None:
            if name in ("connect_timeout", "stop_timeout", "video_capacity", "audio_capacity"):
                raise ConfigurationError(f"{name} cannot be None")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"{name} must be a number, not {type(value).__name__}")
        if name.endswith("capacity"):
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1")
        elif not value > 0:
            raise ConfigurationError(f"{name} must be positive")
