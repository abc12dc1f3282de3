"""Realtime stream states and their transitions, as data for the shared `Lifecycle`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Literal

from .. import _sessions

__all__ = ["TERMINAL", "TRANSITIONS", "Lifecycle", "RealtimeMode", "RealtimeState"]

RealtimeMode = Literal["text_stream", "tts", "audio"]
"""What a `RealtimeSession` speaks: text deltas, a fixed script, or an audio file."""


class RealtimeState(StrEnum):
    """Where a `RealtimeSession` is; ``completed``, ``error`` and ``cancelled`` are terminal.

    ``pending``, ``streaming``, ``completed`` and ``error`` mirror the service's status;
    ``cancelled`` means the SDK cancelled it (leaving the block, ``max_seconds``, a start
    that failed). ``waiting``: a ``text_stream`` opened without text, created by its first
    `say` (the service needs the first words to create a stream).
    """

    NEW = "new"
    WAITING = "waiting"
    CREATING = "creating"
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


_S = RealtimeState
TERMINAL = frozenset({_S.COMPLETED, _S.ERROR, _S.CANCELLED})
TRANSITIONS: dict[RealtimeState, frozenset[RealtimeState]] = {
    _S.NEW: frozenset({_S.WAITING, _S.CREATING, _S.CANCELLED}),
    _S.WAITING: frozenset({_S.CREATING, _S.COMPLETED, _S.CANCELLED}),
    _S.CREATING: frozenset({_S.PENDING, *TERMINAL}),
    _S.PENDING: frozenset({_S.STREAMING, *TERMINAL}),
    _S.STREAMING: TERMINAL,
    _S.COMPLETED: frozenset(),
    _S.ERROR: frozenset(),
    _S.CANCELLED: frozenset(),
}
"""The allowed changes; terminal states have none."""


class Lifecycle(_sessions.Lifecycle[RealtimeState, str]):
    """A realtime stream's `Lifecycle`: its end reason is the service's, or the SDK's
    (``"max_seconds"``, ``"cancel_failed"``...), else the terminal state's name; its
    transitions are logged at DEBUG. ``label`` gives the stream id for log lines."""

    def __init__(self, label: Callable[[], str | None]) -> None:
        super().__init__(
            RealtimeState.NEW,
            TRANSITIONS,
            TERMINAL,
            default_reason=lambda state: state.value,
            label=lambda: f"realtime {label()}",
            level=logging.DEBUG,
        )
