"""v1 session states and end reasons, as data for the shared `Lifecycle` machinery.

Transitions (`TRANSITIONS`; any other is refused, so a late callback cannot undo an end):

    new        -> connecting | closing
    connecting -> connected | failed | closing
    connected  -> failed | closing
    failed     -> closing
    closing    -> closed
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from .. import _sessions
from .._sessions.core import Shape

__all__ = ["ENDED", "SHAPE", "TRANSITIONS", "EndReason", "Lifecycle", "SessionState"]


class SessionState(enum.StrEnum):
    """Where a `Session` is in its life (compares equal to its lower-case string)."""

    NEW = "new"
    """Created, not connected yet."""
    CONNECTING = "connecting"
    """``streaming.new`` sent; waiting for the first frame."""
    CONNECTED = "connected"
    """Media flows; commands are accepted."""
    FAILED = "failed"
    """Ended abnormally (see `Session.end_reason`); leaving the block still cleans up."""
    CLOSING = "closing"
    """Cleanup runs: ``streaming.stop`` and the peer connection's close."""
    CLOSED = "closed"
    """Everything released; the session cannot be used again."""


class EndReason(enum.StrEnum):
    """Why a session ended (compares equal to its string, as in `SessionClosed.reason`).

    Spelled like every end reason of the package (``snake_case``, as the service's own).
    Version 0.1.0 hyphenated four of them (``"connect-timeout"``...):
    ``EndReason("connect-timeout")`` still finds `CONNECT_TIMEOUT`.
    """

    CLOSED = "closed"
    """Closed by the program (the block ended, `Session.aclose`, the client's ``aclose``)."""
    CANCELLED = "cancelled"
    """The connect was cancelled."""
    CONNECT_TIMEOUT = "connect_timeout"
    """No media within ``connect_timeout``."""
    CONNECT_FAILED = "connect_failed"
    """A connect step failed (an API error, an offer that could not be applied)."""
    CONNECTION_FAILED = "connection_failed"
    """ICE or DTLS failed."""
    REMOTE_CLOSED = "remote_closed"
    """The server closed the connection, a track ended, or the session is gone."""
    WATCHDOG = "watchdog"
    """No media for ``watchdog_timeout`` seconds."""

    @classmethod
    def _missing_(cls, value: object) -> EndReason | None:
        """The hyphenated spellings of version 0.1.0 (``"remote-closed"``)."""
        if isinstance(value, str) and "-" in value:
            return cls.__members__.get(value.replace("-", "_").upper())
        return None


S = SessionState
TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    S.NEW: frozenset({S.CONNECTING, S.CLOSING}),
    S.CONNECTING: frozenset({S.CONNECTED, S.FAILED, S.CLOSING}),
    S.CONNECTED: frozenset({S.FAILED, S.CLOSING}),
    S.FAILED: frozenset({S.CLOSING}),
    S.CLOSING: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
ENDED = frozenset({S.FAILED, S.CLOSING, S.CLOSED})
"""The states of an ended session: the first records why (`EndReason.CLOSED` for a close)."""
SHAPE = Shape(
    S.NEW, S.CONNECTING, S.CONNECTED, S.FAILED, S.CLOSING, S.CLOSED,
    closed_reason=EndReason.CLOSED, watchdog_reason=EndReason.WATCHDOG,
)  # fmt: skip
"""The parts these states and reasons play in the shared `MediaSessionCore`."""


class Lifecycle(_sessions.Lifecycle[SessionState, EndReason]):
    """A v1 session's `Lifecycle`; ``label`` gives its id for log lines."""

    def __init__(self, label: Callable[[], str]) -> None:
        super().__init__(
            SessionState.NEW,
            TRANSITIONS,
            ENDED,
            default_reason=lambda _: EndReason.CLOSED,
            label=lambda: f"session {label()}",
        )
