"""The states of a realtime stream as the SDK sees it, and which changes are allowed."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["TERMINAL", "TRANSITIONS", "RealtimeMode", "RealtimeState"]

RealtimeMode = Literal["text_stream", "tts", "audio"]
"""What a `RealtimeSession` speaks: text deltas, a fixed script, or an audio file."""


class RealtimeState(StrEnum):
    """Where a `RealtimeSession` is; ``completed``, ``error`` and ``cancelled`` are terminal.

    ``pending``, ``streaming``, ``completed`` and ``error`` mirror the service's status;
    ``cancelled`` means the SDK cancelled it (leaving the block, ``max_seconds``).
    """

    NEW = "new"
    CREATING = "creating"
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


_S = RealtimeState
TERMINAL = frozenset({_S.COMPLETED, _S.ERROR, _S.CANCELLED})
TRANSITIONS: dict[RealtimeState, frozenset[RealtimeState]] = {
    _S.NEW: frozenset({_S.CREATING, _S.CANCELLED}),
    _S.CREATING: frozenset({_S.PENDING, *TERMINAL}),
    _S.PENDING: frozenset({_S.STREAMING, *TERMINAL}),
    _S.STREAMING: TERMINAL,
    _S.COMPLETED: frozenset(),
    _S.ERROR: frozenset(),
    _S.CANCELLED: frozenset(),
}
"""The allowed changes; terminal states have none."""
