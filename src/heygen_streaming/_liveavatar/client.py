"""LiveAvatarClient: HeyGen's interactive avatar (``api.liveavatar.com``), with its own key.

The client owns one `Transport` (the one retry loop; ``X-API-KEY``, or a session token as
``Authorization: Bearer``), one `LiveAvatarAPI` on it whose endpoint methods it forwards,
and the `SessionRegistry` of the sessions `LiveAvatarClient.session` made: its ``aclose``
stops each still open. Sessions join their room with the official ``livekit`` client, an
extra (``pip install 'heygen-streaming[liveavatar]'``); the REST calls need only httpx.
"""

from __future__ import annotations

import importlib.util
import logging
import platform
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import ConfigurationError, MissingDependencyError
from .._http.client import APIClient, Forward, base_url_from, check_timeout, credential_from
from .._sessions import SessionRegistry, check_options
from .._version import __version__
from .api import LiveAvatarAPI
from .options import LiveAvatarMode, ModeName, QualityName, check_mode, token_body, token_mode

if TYPE_CHECKING:
    from .session import LiveAvatarSession

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "EXTRA",
    "LiveAvatarClient",
    "require_extra",
]

DEFAULT_BASE_URL = "https://api.liveavatar.com"
ROOM = "heygen_streaming._liveavatar.room"
ROOMS_LEFT = 5.0
"""Seconds `LiveAvatarClient.aclose` waits for rooms whose connect was given up."""
API_KEY_ENV = "LIVEAVATAR_API_KEY"
BASE_URL_ENV = "LIVEAVATAR_BASE_URL"
EXTRA = "pip install 'heygen-streaming[liveavatar]'"
logger = logging.getLogger("heygen_streaming")


def require_extra() -> None:
    """`MissingDependencyError` unless the official LiveKit client (and the socket
    library LITE uses) are installed."""
    for module in ("livekit.rtc", "websockets"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingDependencyError(
                f"LiveAvatar sessions join a LiveKit room with the official `livekit` client "
                f"(and LITE uses `websockets`); `{module}` is not installed: {EXTRA}"
            )


def _credential(value: str, what: str) -> str:
    value = value.strip()
    if not value or not value.isascii() or not value.isprintable():
        raise ConfigurationError(f"{what} must be non-empty printable ASCII")
    return value


class LiveAvatarClient(APIClient):
    """Async client for LiveAvatar (``api.liveavatar.com``): sessions and every endpoint.

    LiveAvatar takes its own key (app.liveavatar.com/developers); a HeyGen API key does
    not work there.

    Args:
        api_key: sent as ``X-API-KEY``; defaults to ``$LIVEAVATAR_API_KEY``.
        base_url: service root; ``None``: ``$LIVEAVATAR_BASE_URL`` or
            ``https://api.liveavatar.com`` (the emulator: its base URL).
        token: a session token made by your backend (``create_session_token``), instead
            of a key: `session` then starts that session (its mode is read from the token),
            and only the session's own calls are possible.
        timeout: default deadline of each call in seconds, retries included.
        max_retries: retries after the first attempt (idempotent calls only).
        http_client: an ``httpx.AsyncClient`` to use; not closed by this client.

    Endpoints: `create_session_token`, `start_session`, `stop_session`, `keep_alive`,
    `list_sessions`, `get_session`, `transcript`, `list_avatars`, `list_voices`,
    `credits`. The key and tokens never appear in a message, log line or repr.
    """

    _name = "LiveAvatarClient"
    _closed_error = "this LiveAvatarClient is closed; create a new one"
    _enter_errors = ("a LiveAvatarClient is single use: create a new one",) * 2

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
        credential, is_token = credential_from(
            api_key,
            token,
            API_KEY_ENV,
            "no LiveAvatar API key: pass api_key=..., set $LIVEAVATAR_API_KEY, or "
            "pass token=... (a session token from create_session_token)",
        )
        if is_token:
            token = _credential(credential, "the session token")
            auth = {"Authorization": f"Bearer {token}"}
            secrets = [token]
        else:
            key = _credential(credential, "the API key")
            auth = {"X-API-KEY": key}
            secrets = [key]
        base_url = base_url_from(
            base_url, BASE_URL_ENV, DEFAULT_BASE_URL, "base_url must start with http:// or https://"
        )
        check_timeout(timeout)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError("max_retries must be a whole number >= 0")
        plain = {
            "Accept": "application/json",
            "User-Agent": f"heygen-streaming/{__version__} python/{platform.python_version()}",
        }
        super().__init__(
            base_url,
            {**plain, **auth},
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self._token = token
        self._secrets = secrets
        self._api = LiveAvatarAPI(self._transport, plain, token)
        self._sessions = SessionRegistry()
        self._reapers: set[Any] = set()  # rooms its sessions left in the background

    # -- lifecycle (`APIClient`: single use; ``aclose`` stops the sessions, then HTTP) ---

    async def _close_owned(self) -> None:
        await self._sessions.aclose()
        room = sys.modules.get(ROOM)  # loaded once a session joined a room
        if room is not None and not await room.rooms_left(ROOMS_LEFT, self._reapers):
            logger.warning("a room whose connect was given up is still connecting")

    # -- endpoints -----------------------------------------------------------------------

    create_session_token = Forward(LiveAvatarAPI.create_session_token)
    start_session = Forward(LiveAvatarAPI.start_session)
    stop_session = Forward(LiveAvatarAPI.stop_session)
    keep_alive = Forward(LiveAvatarAPI.keep_alive)
    list_sessions = Forward(LiveAvatarAPI.list_sessions)
    get_session = Forward(LiveAvatarAPI.get_session)
    transcript = Forward(LiveAvatarAPI.transcript)
    list_avatars = Forward(LiveAvatarAPI.list_avatars)
    list_voices = Forward(LiveAvatarAPI.list_voices)
    credits = Forward(LiveAvatarAPI.credits)

    # -- sessions ------------------------------------------------------------------------

    def session(
        self,
        avatar_id: str | None = None,
        mode: LiveAvatarMode | ModeName | None = None,
        voice_id: str | None = None,
        context_id: str | None = None,
        language: str = "en",
        quality: QualityName = "high",
        is_sandbox: bool = False,
        max_session_duration: int | None = None,
        *,
        extra_body: Mapping[str, Any] | None = None,
        connect_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        keep_alive_interval: float | None = 60.0,
        watchdog_timeout: float | None = 10.0,
        interrupt_timeout: float = 5.0,
        video_capacity: int = 10,
        audio_capacity: int = 50,
    ) -> LiveAvatarSession:
        """A `LiveAvatarSession`: ``async with client.session(avatar_id=..., mode="full")``.

        ``avatar_id`` to ``extra_body`` are the ``/v1/sessions/token`` options (``mode``
        defaults to ``"full"``); a client made with ``token=`` takes none of them (the
        token made the session; ``mode`` is read from it unless given). Checked here,
        before any request (`ConfigurationError`); `MissingDependencyError` without the
        ``liveavatar`` extra.

        Args:
            connect_timeout: seconds from the first call to the first video frame; then
                `ConnectTimeout`, the session stopped.
            stop_timeout: bound of the stop sent when the session closes.
            keep_alive_interval: seconds between keep-alives (the service's idle timeout
                is 5 minutes); ``None``: none.
            watchdog_timeout: seconds without media before the session counts as dead.
            interrupt_timeout: LITE: bound of waiting for an interrupt's confirmation.
            video_capacity / audio_capacity: frames a stream buffers (drop-oldest).
        """
        check_options(
            {
                "connect_timeout": connect_timeout,
                "stop_timeout": stop_timeout,
                "keep_alive_interval": keep_alive_interval,
                "watchdog_timeout": watchdog_timeout,
                "interrupt_timeout": interrupt_timeout,
            },
            optional=("keep_alive_interval", "watchdog_timeout"),
            capacities={"video_capacity": video_capacity, "audio_capacity": audio_capacity},
        )
        token_args: dict[str, Any] | None = None
        if self._token is not None:
            given = {"avatar_id": avatar_id, "voice_id": voice_id, "context_id": context_id}
            named = [name for name, value in given.items() if value is not None]
            if named or extra_body or max_session_duration is not None:
                raise ConfigurationError(
                    f"{', '.join(named) or 'session options'}: a client made with token= starts "
                    "the session that token made; its options were set when it was created"
                )
            chosen = check_mode(mode) if mode is not None else token_mode(self._token)
            chosen = chosen or LiveAvatarMode.FULL
        else:
            chosen = check_mode(mode if mode is not None else "full")
            token_args = {
                "avatar_id": avatar_id,
                "mode": chosen.value,
                "voice_id": voice_id,
                "context_id": context_id,
                "language": language,
                "quality": quality,
                "is_sandbox": is_sandbox,
                "max_session_duration": max_session_duration,
                "extra_body": extra_body,
            }
            token_body(**token_args)  # every option checked now, before any request
        self._check_open()
        require_extra()
        from .session import LiveAvatarSession

        session = LiveAvatarSession(
            self._api,
            chosen,
            token_args=token_args,
            session_token=self._token,
            can_look_up=self._token is None,
            secrets=self._secrets,
            reapers=self._reapers,
            connect_timeout=connect_timeout,
            stop_timeout=stop_timeout,
            keep_alive_interval=keep_alive_interval,
            watchdog_timeout=watchdog_timeout,
            interrupt_timeout=interrupt_timeout,
            video_capacity=video_capacity,
            audio_capacity=audio_capacity,
        )
        self._sessions.add(session)
        return session
