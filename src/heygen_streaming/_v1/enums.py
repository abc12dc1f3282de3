"""The v1 wire enumerations (plain ``StrEnum``: importing them loads no pydantic)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Emotion", "Quality", "TaskMode", "TaskType", "VideoEncoding"]


class Quality(StrEnum):
    """Video quality of a streaming session."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class TaskType(StrEnum):
    """``repeat`` speaks the text as is; ``chat`` lets the avatar answer it."""

    REPEAT = "repeat"
    CHAT = "chat"


class TaskMode(StrEnum):
    """``sync`` answers when speech is queued with its duration; ``async`` answers at once."""

    SYNC = "sync"
    ASYNC = "async"


class VideoEncoding(StrEnum):
    """Video codec the service sends."""

    H264 = "H264"
    VP8 = "VP8"


class Emotion(StrEnum):
    """Voice emotion."""

    EXCITED = "Excited"
    SERIOUS = "Serious"
    FRIENDLY = "Friendly"
    SOOTHING = "Soothing"
    BROADCASTER = "Broadcaster"
