"""heygen-streaming: async Python SDK for HeyGen's streaming avatars, with an offline emulator.

`LiveAvatarClient` drives LiveAvatar, HeyGen's interactive avatar today (its own key; FULL
and LITE sessions over the official ``livekit`` client: the ``liveavatar`` extra; its events
and models are in ``heygen_streaming.liveavatar``). One `StreamingClient` speaks Avatar
Realtime (v3, ``/v3/avatar-realtime``: streams played over HLS, `RealtimeSession`) and
Streaming API v1 (raw WebRTC, `Session`; retired by HeyGen in 2026 and served by the
emulator). docs/architecture.md describes the package's layout.

``import heygen_streaming`` is cheap: the exceptions are imported at once, everything else
(httpx, pydantic models, PyAV, the session) on first use of its name, through `_LAZY` and
``_lazy.load``. ``from heygen_streaming import StreamingClient`` works as usual; type
checkers and IDEs see the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _lazy
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
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RealtimeInputClosedError,
    RealtimeStreamError,
    RequestValidationError,
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
    from ._liveavatar.client import LiveAvatarClient
    from ._liveavatar.events import LiveAvatarEvent
    from ._liveavatar.options import LiveAvatarMode
    from ._liveavatar.session import LiveAvatarSession
    from ._liveavatar.state import LiveAvatarEndReason, LiveAvatarState
    from ._media.recording import Recorder, RecordingInfo
    from ._media.streams import FrameStream
    from ._realtime.models import (
        RealtimeAppendResult,
        RealtimeCancelResult,
        RealtimeCreated,
        RealtimeInfo,
        Word,
        WordBatch,
    )
    from ._realtime.session import RealtimeSession, RealtimeState
    from ._v1.enums import Emotion, Quality, TaskMode, TaskType, VideoEncoding
    from ._v1.events import (
        ConnectionStateChanged,
        EventStream,
        MediaStarted,
        ServerMessage,
        SessionEnded,
        SessionEvent,
        TalkingStarted,
        TalkingStopped,
    )
    from ._v1.models import (
        IceCandidate,
        IceServer,
        NewSessionInfo,
        SessionDescription,
        SessionSummary,
        TaskInfo,
        VoiceSettings,
    )
    from ._v1.session import Session
    from ._v1.state import EndReason, SessionState
    from ._v1.stats import InboundStats, SessionStats

# Public name -> private module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "StreamingClient": "._client",
    "LiveAvatarClient": "._liveavatar.client",
    "LiveAvatarEndReason": "._liveavatar.state",
    "LiveAvatarEvent": "._liveavatar.events",
    "LiveAvatarMode": "._liveavatar.options",
    "LiveAvatarSession": "._liveavatar.session",
    "LiveAvatarState": "._liveavatar.state",
    "ConnectionStateChanged": "._v1.events",
    "EventStream": "._v1.events",
    "MediaStarted": "._v1.events",
    "ServerMessage": "._v1.events",
    "SessionEnded": "._v1.events",
    "SessionEvent": "._v1.events",
    "TalkingStarted": "._v1.events",
    "TalkingStopped": "._v1.events",
    "FrameStream": "._media.streams",
    "Emotion": "._v1.enums",
    "IceCandidate": "._v1.models",
    "IceServer": "._v1.models",
    "NewSessionInfo": "._v1.models",
    "Quality": "._v1.enums",
    "SessionDescription": "._v1.models",
    "SessionSummary": "._v1.models",
    "TaskInfo": "._v1.models",
    "TaskMode": "._v1.enums",
    "TaskType": "._v1.enums",
    "VideoEncoding": "._v1.enums",
    "VoiceSettings": "._v1.models",
    "RealtimeAppendResult": "._realtime.models",
    "RealtimeCancelResult": "._realtime.models",
    "RealtimeCreated": "._realtime.models",
    "RealtimeInfo": "._realtime.models",
    "Word": "._realtime.models",
    "WordBatch": "._realtime.models",
    "RealtimeSession": "._realtime.session",
    "RealtimeState": "._realtime.session",
    "Recorder": "._media.recording",
    "RecordingInfo": "._media.recording",
    "Session": "._v1.session",
    "EndReason": "._v1.state",
    "SessionState": "._v1.state",
    "InboundStats": "._v1.stats",
    "SessionStats": "._v1.stats",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    return _lazy.load(name, _LAZY, globals())


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
    "LiveAvatarClient",
    "LiveAvatarEndReason",
    "LiveAvatarEvent",
    "LiveAvatarMode",
    "LiveAvatarSession",
    "LiveAvatarState",
    "MediaStarted",
    "MissingDependencyError",
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
    "RequestValidationError",
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
