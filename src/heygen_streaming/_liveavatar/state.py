"""LiveAvatar session states and end reasons, as data for the shared `Lifecycle`.

Transitions (`TRANSITIONS`; any other is refused, so a late callback cannot undo an end):

    new        -> connecting | closing
    connecting -> connected | ended | closing
    connected  -> ended | closing
    ended      -> closing
    closing    -> closed

``ended``: the session ended on its own (the service stopped it, the room went away, the
connect failed); leaving the block still cleans up.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from .. import _sessions
from .._sessions.core import Shape

__all__ = [
    "ENDED",
    "SHAPE",
    "TRANSITIONS",
    "Lifecycle",
    "LiveAvatarEndReason",
    "LiveAvatarState",
    "published_reason",
]


class LiveAvatarState(enum.StrEnum):
    """Where a `LiveAvatarSession` is in its life (compares equal to its string)."""

    NEW = "new"
    """Created, not connected yet."""
    CONNECTING = "connecting"
    """Token, start and the room's first frame are under way."""
    CONNECTED = "connected"
    """Media flows; commands are accepted."""
    ENDED = "ended"
    """It ended by itself (see `LiveAvatarSession.end_reason`); leaving the block cleans up."""
    CLOSING = "closing"
    """Cleanup runs: the stop call, the room's and the socket's close."""
    CLOSED = "closed"
    """Everything released; the session cannot be used again."""


class LiveAvatarEndReason(enum.StrEnum):
    """Why a session ended: the SDK's own reasons, and the service's published stop reasons
    (``session.stopped``; upper case on the wire, snake_case here like every end reason of
    the package)."""

    CLOSED = "closed"
    """Closed by the program (the block ended, ``aclose()``, the client's ``aclose()``)."""
    CANCELLED = "cancelled"
    """The connect was cancelled."""
    CONNECT_TIMEOUT = "connect_timeout"
    """No video within ``connect_timeout``."""
    CONNECT_FAILED = "connect_failed"
    """A connect step failed (an API error, the room refused the client)."""
    REMOTE_CLOSED = "remote_closed"
    """The room or the socket went away without a published reason."""
    WATCHDOG = "watchdog"
    """No media for ``watchdog_timeout`` seconds."""
    # the service's stop reasons
    UNKNOWN = "unknown"
    USER_DISCONNECTED = "user_disconnected"
    SERVER_ERROR = "server_error"
    IDLE_TIMEOUT = "idle_timeout"
    NO_CREDITS = "no_credits"
    USER_CLOSED = "user_closed"
    """Stopped by a stop call the session did not send (another program, the CLI)."""
    AVATAR_DELETED = "avatar_deleted"
    MAX_DURATION_REACHED = "max_duration_reached"
    ZOMBIE_SESSION_REAP = "zombie_session_reap"
    AGENT_HANG_UP = "agent_hang_up"


def published_reason(value: object) -> LiveAvatarEndReason | None:
    """The end reason of a published stop reason (``"IDLE_TIMEOUT"``), `UNKNOWN` for one
    not in the published list, None for no reason at all."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return LiveAvatarEndReason(value.strip().lower())
    except ValueError:
        return LiveAvatarEndReason.UNKNOWN


S = LiveAvatarState
TRANSITIONS: dict[LiveAvatarState, frozenset[LiveAvatarState]] = {
    S.NEW: frozenset({S.CONNECTING, S.CLOSING}),
    S.CONNECTING: frozenset({S.CONNECTED, S.ENDED, S.CLOSING}),
    S.CONNECTED: frozenset({S.ENDED, S.CLOSING}),
    S.ENDED: frozenset({S.CLOSING}),
    S.CLOSING: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
ENDED = frozenset({S.ENDED, S.CLOSING, S.CLOSED})
"""The states of an ended session: the first records why (`CLOSED` for a close)."""
SHAPE = Shape(
    S.NEW, S.CONNECTING, S.CONNECTED, S.ENDED, S.CLOSING, S.CLOSED,
    closed_reason=LiveAvatarEndReason.CLOSED, watchdog_reason=LiveAvatarEndReason.WATCHDOG,
)  # fmt: skip
"""The parts these states and reasons play in the shared `MediaSessionCore`."""


class Lifecycle(_sessions.Lifecycle[LiveAvatarState, LiveAvatarEndReason]):
    """A LiveAvatar session's `Lifecycle`; ``label`` gives its id for log lines."""

    def __init__(self, label: Callable[[], str]) -> None:
        super().__init__(
            LiveAvatarState.NEW,
            TRANSITIONS,
            ENDED,
            default_reason=lambda _: LiveAvatarEndReason.CLOSED,
            label=lambda: f"LiveAvatar session {label()}",
        )
