"""Exceptions raised by heygen-streaming.

The tree::

    HeyGenError
     ├─ ConfigurationError           no API key / token, bad client arguments
     ├─ ClientClosedError            the client (or session) was closed and cannot be reused
     ├─ APIError                     the service answered with an error
     │   ├─ BadRequestError          400 (and 422)
     │   ├─ AuthenticationError      401, envelope code 400112
     │   ├─ PermissionDeniedError    403, envelope code 400599 (no API access)
     │   ├─ NotFoundError            404, unknown or closed session
     │   ├─ RateLimitError           429
     │   ├─ ConcurrencyLimitError    too many concurrent sessions
     │   └─ InternalServerError      5xx
     ├─ APIConnectionError           the request did not complete
     │   └─ APITimeoutError          ... because it timed out
     ├─ ResponseValidationError      the service answered something we cannot parse
     │   └─ ResponseTooLargeError    ... a body over the size cap (not read)
     └─ SessionError                 the WebRTC side
         ├─ ConnectTimeout           no media within ``connect_timeout``
         ├─ ConnectionFailed         ICE / DTLS failed (carries the state history)
         ├─ SessionClosed            the session ended abnormally (or was used after close)
         └─ UnsupportedSessionError  the service returned a non-v1 (LiveKit) session

Messages never contain the API key or an access token.
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
    "ErrorCode",
    "HeyGenError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "SessionClosed",
    "SessionError",
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
    """Envelope ``code`` values shared by the SDK and the emulator."""

    SUCCESS = 100
    INVALID_PARAMETER = 400100
    UNAUTHORIZED = 400112
    NO_API_ACCESS = 400599
    SESSION_NOT_FOUND = 400113
    CONCURRENCY_LIMIT = 400114
    RATE_LIMITED = 400115
    SESSION_STATE = 400116
    INTERNAL = 500000


CONCURRENCY_CODES = frozenset({ErrorCode.CONCURRENCY_LIMIT, 10004, 10007})


class HeyGenError(Exception):
    """Base class of every exception raised by this package."""


class ConfigurationError(HeyGenError):
    """The client was configured wrongly (for example no API key and no token)."""


class ClientClosedError(HeyGenError, RuntimeError):
    """A closed client or session was used again."""


class APIError(HeyGenError):
    """The service answered with an error.

    Attributes:
        status: HTTP status code (200 when the envelope carried an error code).
        code: the envelope ``code``, when present (v3: a string such as ``"insufficient_credit"``).
        message: the service's message.
        endpoint: e.g. ``"streaming.new"``.
        request_id: the ``X-Request-Id`` (or similar) response header, when present.
        body: the decoded JSON body, when it was JSON.
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
        self.message = message
        self.status = status
        self.code = code
        self.endpoint = endpoint
        self.request_id = request_id
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
    """HTTP 400 / 422: the request was rejected as invalid."""


class AuthenticationError(APIError):
    """HTTP 401 or code 400112: bad or missing API key or token."""


class PermissionDeniedError(APIError):
    """HTTP 403 or code 400599: the account has no API access."""


class NotFoundError(APIError):
    """HTTP 404: unknown or already closed session."""


class RateLimitError(APIError):
    """HTTP 429: too many requests.

    Attributes:
        retry_after: seconds the service asked to wait (``Retry-After``), when it said.
    """

    retry_after: float | None = None


class ConcurrencyLimitError(APIError):
    """Too many concurrent streaming sessions for this account."""


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
        reason: a short machine-readable reason (``"watchdog"``, ``"ice-failed"``, ...).
    """

    def __init__(self, message: str, *, reason: str = "closed") -> None:
        self.reason = reason
        super().__init__(message)


class UnsupportedSessionError(SessionError):
    """The service returned a session this SDK cannot drive (v2/LiveKit, no SDP offer)."""


def error_for(
    status: int,
    *,
    code: int | None,
    message: str,
    endpoint: str,
    request_id: str | None = None,
    body: Any = None,
) -> APIError:
    """Build the most specific `APIError` for an HTTP status and envelope code."""
    cls: type[APIError]
    lowered = message.lower()
    if code in CONCURRENCY_CODES or "concurren" in lowered:
        cls = ConcurrencyLimitError
    elif status == 401 or code == ErrorCode.UNAUTHORIZED:
        cls = AuthenticationError
    elif status == 403 or code == ErrorCode.NO_API_ACCESS:
        cls = PermissionDeniedError
    elif status == 404 or code == ErrorCode.SESSION_NOT_FOUND:
        cls = NotFoundError
    elif status == 429 or code == ErrorCode.RATE_LIMITED:
        cls = RateLimitError
    elif status >= 500 or code == ErrorCode.INTERNAL:
        cls = InternalServerError
    elif status in (400, 422) or 400 <= status < 500 or code is not None:
        cls = BadRequestError
    else:
        cls = APIError
    return cls(
        message or "unknown error",
        status=status,
        code=code,
        endpoint=endpoint,
        request_id=request_id,
        body=body,
    )
