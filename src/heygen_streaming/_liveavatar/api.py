"""LiveAvatar's REST calls (``api.liveavatar.com``): `LiveAvatarAPI`, one method per endpoint.

Two credentials: the API key (``X-API-KEY``) for the account's calls (token, lists,
catalogue, credits, stop by id), a session token (``Authorization: Bearer``) for one
session's (start, keep-alive, stop, transcript). A session token is sent alone: the
service refuses a key on ``/start``. Every call goes through a `Transport` (the one retry
loop): ``token`` and ``start`` are never retried once they may have reached the service
(each creates or bills), the others are (idempotent, also on 5xx and 429 with
``Retry-After``).
"""

# ruff: noqa: ASYNC109  (``timeout=`` is the per-call deadline of the public API)

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from .._errors import ConfigurationError, ResponseValidationError
from .._http.decode import parse
from .._http.transport import Transport
from .envelope import decode
from .options import ModeName, QualityName, token_body
from .wire import SessionStop, SessionToken, StartedSession, read_started, read_stop, read_token

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .models import Avatar, Credits, SessionInfo, Transcript, Voice

__all__ = ["MAX_PAGES", "LiveAvatarAPI"]

_M = TypeVar("_M", bound="BaseModel")

MAX_PAGES = 100
"""Pages a list call follows at most (``limit`` usually stops it first)."""


def _session_path(session_id: str, suffix: str = "") -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise ConfigurationError("session_id must be a non-empty string")
    return f"/v1/sessions/{quote(session_id.strip(), safe='')}{suffix}"


class LiveAvatarAPI:
    """The LiveAvatar endpoints, sent through the client's `Transport`.

    Args:
        transport: sends with the client's credential (the API key, or its session token).
        plain_headers: the headers of a request without credentials (``Accept``, ...).
        token: the client's own session token, when it was made with ``token=``.
    """

    def __init__(
        self, transport: Transport, plain_headers: Mapping[str, str], token: str | None
    ) -> None:
        self._transport = transport
        self._plain = dict(plain_headers)
        self._token = token
        self._by_token: dict[str, Transport] = {}

    # -- sessions -----------------------------------------------------------------------

    async def create_session_token(
        self,
        avatar_id: str,
        mode: ModeName | str = "full",
        *,
        voice_id: str | None = None,
        context_id: str | None = None,
        language: str = "en",
        quality: QualityName | str = "high",
        is_sandbox: bool = False,
        max_session_duration: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> SessionToken:
        """``POST /v1/sessions/token``: create a session; its token starts it.

        Options are checked before any request (`ConfigurationError`); a 422 names each
        field the service refused (`RequestValidationError`). Never retried once sent.
        """
        body = token_body(
            avatar_id=avatar_id,
            mode=mode,
            voice_id=voice_id,
            context_id=context_id,
            language=language,
            quality=quality,
            is_sandbox=is_sandbox,
            max_session_duration=max_session_duration,
            extra_body=extra_body,
        )
        data = await self._send(
            self._keyed(), "POST", "/v1/sessions/token", "sessions.token",
            json=body, idempotent=False, timeout=timeout,
        )  # fmt: skip
        return read_token(data)

    async def start_session(
        self, session_token: str | None = None, *, timeout: float | None = None
    ) -> StartedSession:
        """``POST /v1/sessions/start`` with the session token: the session starts (and is
        billed) and its room opens. Never retried once sent."""
        transport = self._bearer(session_token)
        data = await self._send(
            transport, "POST", "/v1/sessions/start", "sessions.start",
            idempotent=False, timeout=timeout,
        )  # fmt: skip
        return read_started(data)

    async def stop_session(
        self,
        session_id: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
    ) -> SessionStop:
        """``POST /v1/sessions/stop``: end a session, in any state (idempotent).

        With ``token`` (or a client made with ``token=``) the session token says which;
        otherwise the API key and ``session_id``.
        """
        if token is not None or (session_id is None and self._token is not None):
            transport = self._bearer(token)
            body: dict[str, Any] | None = {"session_id": session_id} if session_id else None
        else:
            if session_id is None:
                raise ConfigurationError("stop_session needs session_id= (or token=)")
            _session_path(session_id)
            transport, body = self._keyed(), {"session_id": session_id}
        data = await self._send(
            transport, "POST", "/v1/sessions/stop", "sessions.stop",
            json=body, idempotent=True, timeout=timeout,
        )  # fmt: skip
        return read_stop(data)

    async def keep_alive(
        self, session_token: str | None = None, *, timeout: float | None = None
    ) -> None:
        """``POST /v1/sessions/keep-alive``: reset the session's idle timer (5 minutes)."""
        await self._send(
            self._bearer(session_token), "POST", "/v1/sessions/keep-alive",
            "sessions.keep_alive", idempotent=True, timeout=timeout,
        )  # fmt: skip

    async def list_sessions(
        self, active: bool = True, *, limit: int = 100, timeout: float | None = None
    ) -> list[SessionInfo]:
        """``GET /v1/sessions?type=active|historic``: up to ``limit`` sessions, newest pages
        followed as needed."""
        from .models import SessionInfo

        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError("limit must be a whole number >= 1")
        kind = "active" if active else "historic"
        found: list[SessionInfo] = []
        for number in range(1, MAX_PAGES + 1):
            query = urlencode({"type": kind, "page": number, "page_size": min(limit, 100)})
            data = await self._send(
                self._keyed(), "GET", f"/v1/sessions?{query}", "sessions.list",
                idempotent=True, timeout=timeout,
            )  # fmt: skip
            results = _results(data, "sessions.list")
            found += [parse(SessionInfo, item, "sessions.list") for item in results]
            more = isinstance(data, dict) and bool(data.get("next"))
            if len(found) >= limit or not results or not more:
                break
        return found[:limit]

    async def get_session(self, session_id: str, *, timeout: float | None = None) -> SessionInfo:
        """``GET /v1/sessions/{id}``: its status and, once ended, its ``stop_reason``."""
        from .models import SessionInfo

        return await self._call(
            self._keyed(), "GET", _session_path(session_id), "sessions.get", SessionInfo,
            idempotent=True, timeout=timeout,
        )  # fmt: skip

    async def transcript(
        self, session_id: str, *, token: str | None = None, timeout: float | None = None
    ) -> Transcript:
        """``GET /v1/sessions/{id}/transcript``: what the avatar and the user said."""
        from .models import Transcript

        transport = self._bearer(token) if token or self._token else self._keyed()
        return await self._call(
            transport, "GET", _session_path(session_id, "/transcript"), "sessions.transcript",
            Transcript, idempotent=True, timeout=timeout,
        )  # fmt: skip

    # -- catalogue and account ----------------------------------------------------------

    async def list_avatars(self, *, timeout: float | None = None) -> list[Avatar]:
        """``GET /v1/avatars/public``: the public avatars (first 100)."""
        from .models import Avatar

        data = await self._send(
            self._keyed(), "GET", "/v1/avatars/public?page_size=100", "avatars.list",
            idempotent=True, timeout=timeout,
        )  # fmt: skip
        return [parse(Avatar, item, "avatars.list") for item in _results(data, "avatars.list")]

    async def list_voices(self, *, timeout: float | None = None) -> list[Voice]:
        """``GET /v1/voices``: the voices (first 100)."""
        from .models import Voice

        data = await self._send(
            self._keyed(), "GET", "/v1/voices?page_size=100", "voices.list",
            idempotent=True, timeout=timeout,
        )  # fmt: skip
        return [parse(Voice, item, "voices.list") for item in _results(data, "voices.list")]

    async def credits(self, *, timeout: float | None = None) -> Credits:
        """``GET /v1/users/credits``: the account's balance."""
        from .models import Credits

        return await self._call(
            self._keyed(), "GET", "/v1/users/credits", "users.credits", Credits,
            idempotent=True, timeout=timeout,
        )  # fmt: skip

    # -- plumbing -----------------------------------------------------------------------

    def _keyed(self) -> Transport:
        if self._token is not None:
            raise ConfigurationError(
                "this call needs the API key: the client was made with a session token "
                "(LiveAvatarClient(api_key=...) or $LIVEAVATAR_API_KEY)"
            )
        return self._transport

    def _bearer(self, token: str | None) -> Transport:
        """A transport sending ``token`` (default: the client's own) and no API key."""
        token = token if token is not None else self._token
        if token is None:
            raise ConfigurationError("this call needs a session token (token=...)")
        if not isinstance(token, str) or not token.strip() or not token.isprintable():
            raise ConfigurationError("the session token must be a non-empty printable string")
        if token == self._token:
            return self._transport
        transport = self._by_token.get(token)
        if transport is None:
            base = self._transport
            transport = Transport(
                base.http,
                base.base_url,
                {**self._plain, "Authorization": f"Bearer {token.strip()}"},
                timeout=base.timeout,
                policy=base.policy,
                check_open=base.check_open,
            )
            if len(self._by_token) >= 64:  # one per session: forget the oldest
                self._by_token.pop(next(iter(self._by_token)))
            self._by_token[token] = transport
        return transport

    async def _send(
        self,
        transport: Transport,
        method: str,
        path: str,
        endpoint: str,
        *,
        json: Any = None,
        idempotent: bool,
        timeout: float | None,
    ) -> Any:
        sent = await transport.send(
            method, path, endpoint=endpoint, json=json, idempotent=idempotent, timeout=timeout
        )
        return decode(sent.response, endpoint, _credentials(transport))

    async def _call(
        self,
        transport: Transport,
        method: str,
        path: str,
        endpoint: str,
        model: type[_M],
        *,
        json: Any = None,
        idempotent: bool,
        timeout: float | None,
    ) -> _M:
        data = await self._send(
            transport, method, path, endpoint, json=json, idempotent=idempotent, timeout=timeout
        )
        return parse(model, data, endpoint)


def _credentials(transport: Transport) -> list[str]:
    """The credentials a transport sends (blanked from error messages)."""
    key = transport.headers.get("X-API-KEY", "")
    bearer = transport.headers.get("Authorization", "").removeprefix("Bearer ")
    return [secret for secret in (key, bearer) if secret]


def _results(data: Any, endpoint: str) -> list[Any]:
    """The items of a page (``{count, results, next, previous}``) or of a bare list."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        results: list[Any] = data["results"]
        return results
    raise ResponseValidationError("expected a page of results", endpoint=endpoint)
