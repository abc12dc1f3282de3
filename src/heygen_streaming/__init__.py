"""heygen-streaming: async Python SDK for HeyGen's Streaming API v1 (raw WebRTC).

``import heygen_streaming`` is cheap: the exceptions are imported at once, everything else
(httpx, pydantic models, PyAV, the session) on first use of its name, through `_LAZY`.
``from heygen_streaming import StreamingClient`` works as usual; type checkers and IDEs see
the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConcurrencyLimitError,
    ConfigurationError,
    ConnectionFailed,
    ConnectTimeout,
    EndpointRetiredError,
    ErrorCode,
    HeyGenError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    SessionClosed,
    SessionError,
    SessionStateError,
    UnsupportedSessionError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import StreamingClient
    from ._events import (
        ConnectionStateChanged,
        EventStream,
        MediaStarted,
        ServerMessage,
        SessionEnded,
        SessionEvent,
        TalkingStarted,
        TalkingStopped,
    )
    from ._media import FrameStream
    from ._models import (
        Emotion,
        IceCandidate,
        IceServer,
        NewSessionInfo,
        Quality,
        SessionDescription,
        SessionSummary,
        TaskInfo,
        TaskMode,
        TaskType,
        VideoEncoding,
        VoiceSettings,
    )
    from ._recording import Recorder, RecordingInfo
    from ._session import Session
    from ._stats import InboundStats, SessionStats

# Public name -> private module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "StreamingClient": "._client",
    **dict.fromkeys(
        [
            "ConnectionStateChanged",
            "EventStream",
            "MediaStarted",
            "ServerMessage",
            "SessionEnded",
            "SessionEvent",
            "TalkingStarted",
            "TalkingStopped",
        ],
        "._events",
    ),
    "FrameStream": "._media",
    **dict.fromkeys(
        [
            "Emotion",
            "IceCandidate",
            "IceServer",
            "NewSessionInfo",
            "Quality",
            "SessionDescription",
            "SessionSummary",
            "TaskInfo",
            "TaskMode",
            "TaskType",
            "VideoEncoding",
            "VoiceSettings",
        ],
        "._models",
    ),
    "Recorder": "._recording",
    "RecordingInfo": "._recording",
    "Session": "._session",
    "InboundStats": "._stats",
    "SessionStats": "._stats",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "ConnectionStateChanged",
    "Emotion",
    "EndpointRetiredError",
    "ErrorCode",
    "EventStream",
    "FrameStream",
    "HeyGenError",
    "IceCandidate",
    "IceServer",
    "InboundStats",
    "InternalServerError",
    "MediaStarted",
    "NewSessionInfo",
    "NotFoundError",
    "PermissionDeniedError",
    "Quality",
    "RateLimitError",
    "Recorder",
    "RecordingInfo",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServerMessage",
    "Session",
    "SessionClosed",
    "SessionDescription",
    "SessionEnded",
    "SessionError",
    "SessionEvent",
    "SessionStateError",
    "SessionStats",
    "SessionSummary",
    "StreamingClient",
    "TalkingStarted",
    "TalkingStopped",
    "TaskInfo",
    "TaskMode",
    "TaskType",
    "UnsupportedSessionError",
    "VideoEncoding",
    "VoiceSettings",
    "__version__",
]
