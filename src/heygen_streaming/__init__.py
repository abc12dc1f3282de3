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
    HlsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RealtimeInputClosedError,
    RealtimeStreamError,
    ResponseTooLargeError,
    ResponseValidationError,
    SessionClosed,
    SessionError,
    SessionNotStopped,
    SessionStateError,
    UnsupportedSessionError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import StreamingClient
    from ._enums import Emotion, Quality, TaskMode, TaskType, VideoEncoding
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
        IceCandidate,
        IceServer,
        NewSessionInfo,
        SessionDescription,
        SessionSummary,
        TaskInfo,
        VoiceSettings,
    )
    from ._realtime_models import (
        RealtimeAppendResult,
        RealtimeCancelResult,
        RealtimeCreated,
        RealtimeInfo,
        Word,
        WordBatch,
    )
    from ._realtime_session import RealtimeSession, RealtimeState
    from ._recording import Recorder, RecordingInfo
    from ._session import Session
    from ._state import EndReason, SessionState
    from ._stats import InboundStats, SessionStats

# Public name -> private module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "StreamingClient": "._client",
    "ConnectionStateChanged": "._events",
    "EventStream": "._events",
    "MediaStarted": "._events",
    "ServerMessage": "._events",
    "SessionEnded": "._events",
    "SessionEvent": "._events",
    "TalkingStarted": "._events",
    "TalkingStopped": "._events",
    "FrameStream": "._media",
    "Emotion": "._enums",
    "IceCandidate": "._models",
    "IceServer": "._models",
    "NewSessionInfo": "._models",
    "Quality": "._enums",
    "SessionDescription": "._models",
    "SessionSummary": "._models",
    "TaskInfo": "._models",
    "TaskMode": "._enums",
    "TaskType": "._enums",
    "VideoEncoding": "._enums",
    "VoiceSettings": "._models",
    "RealtimeAppendResult": "._realtime_models",
    "RealtimeCancelResult": "._realtime_models",
    "RealtimeCreated": "._realtime_models",
    "RealtimeInfo": "._realtime_models",
    "Word": "._realtime_models",
    "WordBatch": "._realtime_models",
    "RealtimeSession": "._realtime_session",
    "RealtimeState": "._realtime_session",
    "Recorder": "._recording",
    "RecordingInfo": "._recording",
    "Session": "._session",
    "EndReason": "._state",
    "SessionState": "._state",
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
    "EndReason",
    "EndpointRetiredError",
    "ErrorCode",
    "EventStream",
    "FrameStream",
    "HeyGenError",
    "HlsError",
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
    "RealtimeAppendResult",
    "RealtimeCancelResult",
    "RealtimeCreated",
    "RealtimeInfo",
    "RealtimeInputClosedError",
    "RealtimeSession",
    "RealtimeState",
    "RealtimeStreamError",
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
    "SessionNotStopped",
    "SessionState",
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
    "Word",
    "WordBatch",
    "__version__",
]
