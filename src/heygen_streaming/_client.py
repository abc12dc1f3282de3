"""StreamingClient: configuration, lifecycle, and the API objects it owns.

The client owns one `Transport` (``_http``: the HTTP client, base URL, headers, deadline,
retries), one API object per HeyGen API on it (`V1API`, ``/v1/streaming.*``;
`RealtimeAPI`, ``/v3/avatar-realtime``) and the `SessionRegistry` of the sessions its
factories made (`StreamingClient.session`, `StreamingClient.realtime`). Its endpoint
methods are the API objects' own, forwarded (`Forward`): composition, no mixins. This
module and the package's ``__init__`` are the only ones that know several APIs; the
command line sees the SDK through this module and the public names only.
"""

# ``timeout=`` below is httpx's per-request timeout (contract API), not an asyncio deadline.

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import ConfigurationError, sanitize
from ._http.client import APIClient, Forward, base_url_from, check_timeout, credential_from
from ._realtime.api import AudioInput, RealtimeAPI
from ._sessions import SessionRegistry, check_options
from ._v1.api import V1API
from ._v1.enums import QualityName, VideoEncodingName
from ._v1.options import (
    already_stopped,
    check_credential,
    check_ice_servers,
    check_text,
    new_session_body,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._realtime.session import RealtimeMode, RealtimeSession
    from ._v1.enums import Quality, VideoEncoding
    from ._v1.models import IceServer, VoiceSettings
    from ._v1.session import Session

__all__ = [
    "DEFAULT_BASE_URL",
    "StreamingClient",
    "already_stopped",
    "check_recording_path",
    "check_remux_path",
    "check_text",
    "sanitize",
]

DEFAULT_BASE_URL = "https://api.heygen.com"
API_KEY_ENV = "HEYGEN_API_KEY"
BASE_URL_ENV = "HEYGEN_BASE_URL"

logger = logging.getLogger("heygen_streaming")


def _user_agent() -> str:
    return (
        f"heygen-streaming/{__version__} python/{platform.python_version()} "
        f"httpx/{httpx.__version__}"
    )


class StreamingClient(APIClient):
    """Async client for HeyGen's streaming avatars: Streaming API v1 and Avatar Realtime.

    One client, one credential, two APIs on one base URL:

    - Streaming API v1 (raw WebRTC; retired by HeyGen in 2026, served by the emulator):
      `session` (high level), `new_session`, `start_session`, `submit_ice`, `send_task`,
      `interrupt`, `keep_alive`, `stop_session`, `list_sessions`, `create_token`;
    - Avatar Realtime (v3, HLS): `realtime` (high level), `create_realtime`,
      `get_realtime`, `append_realtime_text`, `cancel_realtime`, `realtime_words`.

    LiveAvatar, HeyGen's interactive avatar today, takes its own key and gets its own
    client.

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
        hls_http_client: an ``httpx.AsyncClient`` for the HLS playlists and segments of
            realtime streams (no credentials are ever sent there); not closed by this
            client. By default each stream opens its own.
        hls_hosts: hosts a realtime stream's HLS reader may fetch from besides the
            playlist's own origin and where it redirects (``"cdn.example.com"``,
            ``"cdn.example.com:8443"``, ``"*.example.com"``, ``"*"``); link-local and cloud
            metadata addresses are refused whatever this says.

    Every endpoint method also takes ``timeout=`` (seconds) overriding the default for that
    call; ``None`` there means "the client's default". The key is stripped of surrounding
    whitespace and must be printable ASCII; it never appears in a message or repr.
    Requests never follow redirects.

    A client is single use: ``async with StreamingClient() as client: ...`` (or call
    `aclose`); once closed it refuses further calls with `ClientClosedError`, and the
    sessions it made are closed first.
    """

    _name = "StreamingClient"
    _closed_error = "this StreamingClient is closed; a client is single use, create a new one"
    _enter_errors = (
        _closed_error,
        "this StreamingClient was already entered; a client is single use",
    )

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        hls_http_client: httpx.AsyncClient | None = None,
        hls_hosts: Sequence[str] = (),
    ) -> None:
        credential, is_token = credential_from(
            api_key,
            token,
            API_KEY_ENV,
            "no API key: pass api_key=..., set the HEYGEN_API_KEY environment variable, or "
            "pass token=... (from streaming.create_token)",
        )
        if is_token:
            auth = {"Authorization": f"Bearer {check_credential(credential, 'the token')}"}
        else:
            what = "the API key" if api_key is not None else "the API key in $HEYGEN_API_KEY"
            auth = {"X-Api-Key": check_credential(credential, what)}
        base_url = base_url_from(
            base_url,
            BASE_URL_ENV,
            DEFAULT_BASE_URL,
            "base_url (or $HEYGEN_BASE_URL) must start with http:// or https:// "
            "and hold no control characters",
        )
        check_timeout(timeout)
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        headers = {**auth, "Accept": "application/json", "User-Agent": _user_agent()}
        super().__init__(
            base_url, headers, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        self._v1 = V1API(self._transport)
        self._realtime = RealtimeAPI(self._transport)
        self._hls_http = hls_http_client
        self._hls_hosts: tuple[str, ...] = ()
        if hls_hosts:
            from ._realtime.hls.hosts import check_hosts

            self._hls_hosts = check_hosts(hls_hosts)
        self._sessions = SessionRegistry()  # every session closes before the client does

    # -- properties ---------------------------------------------------------------------

    @property
    def timeout(self) -> float | None:
        """Default per-request timeout in seconds."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._transport.max_retries

    # -- lifecycle (`APIClient`: single use; ``aclose`` ends the sessions, then HTTP) ---

    async def _close_owned(self) -> None:
        await self._sessions.aclose()  # waits for closes in flight, even if cancelled

    # -- endpoints (forwarded to the API objects) --------------------------------------

    new_session = Forward(V1API.new_session, "_v1")
    start_session = Forward(V1API.start_session, "_v1")
    submit_ice = Forward(V1API.submit_ice, "_v1")
    send_task = Forward(V1API.send_task, "_v1")
    interrupt = Forward(V1API.interrupt, "_v1")
    keep_alive = Forward(V1API.keep_alive, "_v1")
    stop_session = Forward(V1API.stop_session, "_v1")
    list_sessions = Forward(V1API.list_sessions, "_v1")
    create_token = Forward(V1API.create_token, "_v1")
    _create_session = Forward(V1API._create_session, "_v1")

    create_realtime = Forward(RealtimeAPI.create_realtime, "_realtime")
    get_realtime = Forward(RealtimeAPI.get_realtime, "_realtime")
    append_realtime_text = Forward(RealtimeAPI.append_realtime_text, "_realtime")
    cancel_realtime = Forward(RealtimeAPI.cancel_realtime, "_realtime")
    realtime_words = Forward(RealtimeAPI.realtime_words, "_realtime")

    # -- high level ---------------------------------------------------------------------

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
        check_options(
            {
                "connect_timeout": connect_timeout,
                "watchdog_timeout": watchdog_timeout,
                "keep_alive_interval": keep_alive_interval,
                "stop_timeout": stop_timeout,
                "ice_gather_timeout": ice_gather_timeout,
            },
            optional=("watchdog_timeout", "keep_alive_interval", "ice_gather_timeout"),
            capacities={"video_capacity": video_capacity, "audio_capacity": audio_capacity},
        )
        from ._v1.session import Session

        session = Session(
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
        self._sessions.add(session)
        return session

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
        from ._realtime.session import RealtimeSession

        session = RealtimeSession(
            self,
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
            hls_http_client=self._hls_http,
            hls_hosts=self._hls_hosts,
        )
        self._sessions.add(session)
        return session


# -- checks before a billable session -----------------------------------------------------
# The command line runs these before it opens a session; it sees the SDK through this
# module and the public names only (``already_stopped`` and ``check_text`` are imported
# above from ``_v1.options``, ``sanitize`` from ``_errors``).


def check_recording_path(path: str | os.PathLike[str]) -> None:
    """`ValueError` unless a session can be recorded to ``path`` (by its extension)."""
    from ._media.writer import container_codecs

    container_codecs(path)


def check_remux_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if a realtime stream can be recorded to it (`ConfigurationError` if not)."""
    from ._realtime.hls.media import check_remux_path as check

    return check(path)
