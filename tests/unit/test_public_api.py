"""Pin the curated public surface: changing it must be a deliberate one-line edit here."""

from __future__ import annotations

import heygen_streaming

EXPECTED = [
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


def test_all_is_pinned() -> None:
    assert sorted(heygen_streaming.__all__) == sorted(EXPECTED)
    assert len(set(heygen_streaming.__all__)) == len(heygen_streaming.__all__)


def test_every_public_name_resolves() -> None:
    for name in heygen_streaming.__all__:
        assert getattr(heygen_streaming, name) is not None, name


def test_star_import_matches_all() -> None:
    namespace: dict[str, object] = {}
    exec("from heygen_streaming import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(EXPECTED)
