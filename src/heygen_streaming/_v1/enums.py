"""The v1 wire enumerations and their names as literal types (no pydantic: cheap to import).

Each vocabulary is defined here once: the enum is the runtime fact (the models and the
hand-built bodies check values against it), and the ``Literal`` right below it spells the
same values for type checkers (tests/unit/test_plain_wire.py proves they agree).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = [
    "Emotion",
    "Quality",
    "QualityName",
    "TaskMode",
    "TaskModeName",
    "TaskType",
    "TaskTypeName",
    "VideoEncoding",
    "VideoEncodingName",
]


class Quality(StrEnum):
    """Video quality of a streaming session."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


QualityName = Literal["high", "medium", "low"]


class TaskType(StrEnum):
    """``repeat`` speaks the text as is; ``chat`` lets the avatar answer it."""

    REPEAT = "repeat"
    CHAT = "chat"


TaskTypeName = Literal["repeat", "chat"]


class TaskMode(StrEnum):
    """``sync`` answers when speech is queued with its duration; ``async`` answers at once."""

    SYNC = "sync"
    ASYNC = "async"


TaskModeName = Literal["sync", "async"]


class VideoEncoding(StrEnum):
    """Video codec the service sends."""

    H264 = "H264"
    VP8 = "VP8"


VideoEncodingName = Literal["H264", "VP8"]


class Emotion(StrEnum):
    """Voice emotion."""

    EXCITED = "Excited"
    SERIOUS = "Serious"
    FRIENDLY = "Friendly"
    SOOTHING = "Soothing"
    BROADCASTER = "Broadcaster"
