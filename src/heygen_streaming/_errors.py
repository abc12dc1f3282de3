"""Exceptions raised by heygen-streaming.

The tree:

    HeyGenError
     ├─ ConfigurationError           bad arguments, raised before any request (also ValueError)
     ├─ ClientClosedError            the client (or session) was closed and cannot be reused
     ├─ MissingDependencyError       an optional extra is not installed (also ImportError)
     ├─ APIError                     the service answered with an error
     │   ├─ BadRequestError          400 / 422, invalid parameters, avatar not found (10013)
     │   │   ├─ SessionStateError    "session state wrong: ..." (10001-10004)
     │   │   └─ RequestValidationError  422 listing each invalid field (also ConfigurationError)
     │   ├─ AuthenticationError      401, code 400112
     │   ├─ PermissionDeniedError    403, code 400599 (no API access), 400562
     │   ├─ NotFoundError            404, unknown (10006) or closed (10005) session
     │   ├─ RateLimitError           429 (carries ``retry_after``)
     │   ├─ ConcurrencyLimitError    too many concurrent sessions (10007)
     │   ├─ EndpointRetiredError     410: HeyGen retired the endpoint (``endpoint_sunset``)
     │   ├─ RealtimeInputClosedError 410 on a v3 append: input closed (``final``, or ended)
     │   └─ InternalServerError      5xx
     ├─ APIConnectionError           the request did not complete
     │   └─ APITimeoutError          ... because the call's deadline passed
     ├─ ResponseValidationError      the service answered something we cannot parse
     │   └─ ResponseTooLargeError    ... a body over the size cap (not read)
     ├─ HlsError                     a v3 HLS stream could not be read
     └─ SessionError                 the WebRTC side
         ├─ ConnectTimeout           no media within ``connect_timeout``
         ├─ ConnectionFailed         ICE / DTLS failed (carries the state history)
         ├─ SessionClosed            the session ended abnormally (or was used after close)
         │   └─ RealtimeStreamError  a v3 stream ended in ``error`` (``error_message``)
         ├─ SessionNotStopped        the stop was not confirmed: the session may be billed
         └─ UnsupportedSessionError  the service returned a non-v1 (LiveKit) session

Messages never contain the API key or an access token; server text in them is passed
through `sanitize` (no terminal escapes or control characters, bounded length).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ConnectTimeout",
    "ConnectionFailed",
    "EndpointRetiredError",
    "ErrorCode",
    "HeyGenError",
    "HlsError",
    "InternalServerError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RealtimeInputClosedError",
    "RealtimeStreamError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "SessionClosed",
    "SessionError",
    "SessionNotStopped",
    "SessionStateError",
    "UnsupportedSessionError",
    "error_for",
    "sanitize",
]

# Terminal escape sequences (CSI, OSC, two-byte ESC), C0/C1 controls, bidi/zero-width marks.
_UNSAFE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])?"
    r"|[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


def sanitize(text: str, *, limit: int = 500) -> str:
    """Server text made safe to print: no escapes or control characters, one line, bounded.

    Newlines and tabs become spaces; anything past ``limit`` characters becomes ``...``.
    """
    cleaned = _UNSAFE.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 3, 0)] + "..."
    return cleaned


class ErrorCode:
    """Envelope ``code`` values of HeyGen's v1 API (``tests/wire/fixtures/v1/SOURCES.md``).

    Captured: `SUCCESS`, `UNAUTHORIZED`, `INVALID_PARAMS`, `SESSION_CLOSED`, `AVATAR`,
    `NO_API_ACCESS`, `FORBIDDEN`. From HeyGen's error reference: `PERMISSION_DENIED` and
    the access-token codes. From an unofficial SDK only (unverified): the other ``100xx``
    session codes and `RATE_LIMITED`.
    """

    SUCCESS = 100
    # Session (1000x): captured 10005 "session state wrong: closed"; the rest unverified.
    SESSION_STATE_NEW = 10001
    SESSION_STATE_CONNECTING = 10002
    SESSION_STATE_CONNECTED = 10003  # captured meaning: "avatar version is deprecated"
    SESSION_STATE_CLOSING = 10004
    SESSION_CLOSED = 10005
    SESSION_NOT_FOUND = 10006
    CONCURRENT_LIMIT = 10007
    AVATAR = 10013  # captured: "avatar not found" and "avatar not allow"
    # Account and request codes.
    INVALID_PARAMS = 400006
    UNAUTHORIZED = 400112
    RATE_LIMITED = 400123
    ACCESS_TOKEN_EXPIRED = 401056
    INVALID_ACCESS_TOKEN = 401057
    FORBIDDEN = 400562
    PERMISSION_DENIED = 400573
    NO_API_ACCESS = 400599


_AUTH_CODES = frozenset(
    {ErrorCode.UNAUTHORIZED, 40102, ErrorCode.ACCESS_TOKEN_EXPIRED, ErrorCode.INVALID_ACCESS_TOKEN}
)
_PERMISSION_CODES = frozenset(
    {ErrorCode.NO_API_ACCESS, ErrorCode.FORBIDDEN, ErrorCode.PERMISSION_DENIED}
)
_NOT_FOUND_CODES = frozenset({ErrorCode.SESSION_NOT_FOUND, ErrorCode.SESSION_CLOSED})
_STATE_CODES = frozenset(
    {
        ErrorCode.SESSION_STATE_NEW,
        ErrorCode.SESSION_STATE_CONNECTING,
        ErrorCode.SESSION_STATE_CLOSING,
    }
)


class HeyGenError(Exception):
    """Base class of every exception raised by this package."""


class ConfigurationError(HeyGenError, ValueError):
    """Bad arguments (no API key, an unknown quality, empty text...), raised before any request."""


class ClientClosedError(HeyGenError, RuntimeError):
    """A closed client or session was used again."""


class MissingDependencyError(HeyGenError, ImportError):
    """An optional part of the package needs an extra that is not installed (the message
    names the ``pip install`` command)."""


class APIError(HeyGenError):
    """The service answered with an error.

    Attributes:
        status: HTTP status code (200 when the envelope carried an error code).
        code: the envelope ``code``, when present (v3: a string, e.g. ``"insufficient_credit"``).
        message: the service's message (sanitized: printable, bounded).
        endpoint: e.g. ``"streaming.new"``.
        request_id: the ``X-Request-Id`` (or similar) response header, when present.
        body: the decoded JSON body, when it was JSON (raw: sanitize before printing).
        param / doc_url: the v3 error's ``param`` (the invalid field) and ``doc_url``.
    """

    param: str | None = None
    doc_url: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | str | None = None,
        endpoint: str = "",
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = sanitize(message, limit=1000)
        self.status = status
        self.code = code
        self.endpoint = endpoint
        self.request_id = sanitize(request_id, limit=100) if request_id else None
        self.body = body
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [f"{self.endpoint or 'request'} failed: HTTP {self.status}"]
        if self.code is not None:
            parts.append(f"code {self.code}")
        text = ", ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"endpoint={self.endpoint!r}, message={self.message!r})"
        )


class BadRequestError(APIError):
    """HTTP 400 / 422: the request was rejected as invalid (or named an unusable avatar)."""


class SessionStateError(BadRequestError):
    """The session is in the wrong state for this call ("session state wrong: new", ...)."""


class RequestValidationError(BadRequestError, ConfigurationError):
    """HTTP 422: the service refused the request's fields (LiveAvatar's validation errors).

    Attributes:
        fields: ``(field, message)`` for each invalid field, as the service named them
            (e.g. ``("body.avatar_id", "Input should be a valid UUID")``).
    """

    fields: tuple[tuple[str, str], ...] = ()


class AuthenticationError(APIError):
    """HTTP 401 or code 400112: bad or missing API key or token."""


class PermissionDeniedError(APIError):
    """HTTP 403 or code 400599: the account has no API access."""


class NotFoundError(APIError):
    """HTTP 404, code 10006 or 10005: unknown or already closed session (or a wrong URL)."""


class RateLimitError(APIError):
    """HTTP 429: too many requests.

    Attributes:
        retry_after: seconds the service asked to wait (``Retry-After``), when it said.
    """

    retry_after: float | None = None


class ConcurrencyLimitError(APIError):
    """Too many concurrent streaming sessions for this account."""


class EndpointRetiredError(APIError):
    """HTTP 410 (``endpoint_sunset``): HeyGen retired this endpoint.

    HeyGen turned off ``/v1/streaming.*`` and ``/v2/streaming.*`` in 2026. The message says
    what works today: HeyGen's Avatar Realtime API (``client.realtime()``, the
    ``heygen-streaming realtime`` command), or the offline emulator for v1 code.
    """

    def _format(self) -> str:
        said = super()._format().rstrip(".")
        return (
            f"{said}. HeyGen retired this endpoint (endpoint_sunset): the v1/v2 "
            "streaming API no longer serves sessions. With a HeyGen key, use its current "
            "Avatar Realtime API: `client.realtime()` in code, `heygen-streaming realtime` "
            "on the command line. v1 code still runs against the offline emulator "
            "(`heygen-streaming emulator`, or `heygen_streaming.emulator.Emulator` in code, "
            "then pass its base URL)."
        )


class InternalServerError(APIError):
    """HTTP 5xx: the service failed."""


class APIConnectionError(HeyGenError):
    """The request did not complete (DNS, connect, reset, ...)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class ResponseValidationError(HeyGenError):
    """The service answered something that does not match the documented shape."""

    def __init__(self, message: str, *, endpoint: str = "", body: Any = None) -> None:
        self.endpoint = endpoint
        self.body = body
        super().__init__(f"{endpoint}: {message}" if endpoint else message)


class ResponseTooLargeError(ResponseValidationError):
    """The response body exceeded the size cap; it was not read (nor kept)."""


class SessionError(HeyGenError):
    """Base class of WebRTC-side failures."""


class ConnectTimeout(SessionError, TimeoutError):
    """The session did not deliver media within ``connect_timeout``."""


class ConnectionFailed(SessionError):
    """ICE or DTLS failed.

    Attributes:
        states: the connection states seen, oldest first.
    """

    def __init__(self, message: str, *, states: list[str] | None = None) -> None:
        self.states = list(states or [])
        if self.states:
            message = f"{message} (states: {' -> '.join(self.states)})"
        super().__init__(message)


class SessionClosed(SessionError):
    """The session ended abnormally, or was used after it was closed.

    Attributes:
        reason: a short machine-readable reason (``"watchdog"``, ``"remote_closed"``, ...).
    """

    def __init__(self, message: str, *, reason: str = "closed") -> None:
        self.reason = reason
        super().__init__(message)


class SessionNotStopped(SessionError):
    """The session's stop could not be confirmed: it may still be open and billed.

    Attributes:
        session_id: the session that may still be open.
        command: the shell command that stops it.
    """

    def __init__(
        self,
        session_id: str,
        cause: str,
        *,
        command: str | None = None,
        call: str = "streaming.stop",
    ) -> None:
        self.session_id = session_id
        self.command = command or f"heygen-streaming sessions stop {session_id}"
        super().__init__(
            f"{call} was not confirmed for session {session_id} ({cause}); "
            f"it may still be open and billed: stop it with `{self.command}`"
        )


class UnsupportedSessionError(SessionError):
    """The service returned a session this SDK cannot drive (v2/LiveKit, no SDP offer)."""


class RealtimeInputClosedError(APIError):
    """HTTP 410 from ``append_realtime_text``: the stream takes no more text.

    Its input was closed by a ``final=True`` append (``RealtimeSession.finish``), or the
    stream already ended (idle timeout, cancel). Start a new stream to say more.
    """


class RealtimeStreamError(SessionClosed):
    """The realtime stream ended in ``error`` on the service side.

    Attributes:
        stream_id: the stream.
        error_message: the service's ``error_message`` (may be None).
        reason: ``"error"``.
    """

    def __init__(self, message: str, *, stream_id: str | None, error_message: str | None) -> None:
        self.stream_id = stream_id
        self.error_message = error_message
        super().__init__(message, reason="error")


class HlsError(HeyGenError):
    """The HLS stream could not be read (playlist or segments failing, not a playlist)."""


def error_for(
    status: int,
    *,
    code: int | None,
    message: str,
    endpoint: str,
    request_id: str | None = None,
    body: Any = None,
) -> APIError:
    """Build the most specific `APIError` for an HTTP status and envelope code.

    A known envelope code wins over the HTTP status (HeyGen sent codes with 200 and 400);
    410 always means the endpoint was retired.
    """
    return _class_for(status, code, message.lower())(
        message or "unknown error",
        status=status,
        code=code,
        endpoint=endpoint,
        request_id=request_id,
        body=body,
    )


def _class_for(status: int, code: int | None, lowered: str) -> type[APIError]:
    if status == 410 or "endpoint_sunset" in lowered:
        return EndpointRetiredError
    if code == ErrorCode.CONCURRENT_LIMIT or "concurren" in lowered:
        return ConcurrencyLimitError
    if code in _AUTH_CODES:
        return AuthenticationError
    if code in _PERMISSION_CODES:
        return PermissionDeniedError
    if code in _NOT_FOUND_CODES or "session state wrong: closed" in lowered:
        return NotFoundError
    if code in _STATE_CODES or "session state wrong" in lowered:
        return SessionStateError
    if code == ErrorCode.RATE_LIMITED:
        return RateLimitError
    by_status: dict[int, type[APIError]] = {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        429: RateLimitError,
    }
    if status in by_status:
        return by_status[status]
    if status >= 500:
        return InternalServerError
    if 400 <= status < 500 or code is not None:
        return BadRequestError
    return APIError
