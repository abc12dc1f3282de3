"""Exceptions specific to Avatar Realtime (v3); they extend the package's exception tree.

::

    APIError
     └─ RealtimeInputClosedError   HTTP 410 on append: input was closed (``final``) or the
                                   stream ended
    SessionClosed
     └─ RealtimeStreamError        the stream ended in ``error`` (carries ``error_message``)
"""

from __future__ import annotations

from ._errors import APIError, SessionClosed

__all__ = ["RealtimeInputClosedError", "RealtimeStreamError"]


class RealtimeInputClosedError(APIError):
    """HTTP 410 from ``append_realtime_text``: the stream takes no more text.

    Its input was closed by a ``final=True`` append (``RealtimeSession.finish``), or the
    stream already ended (idle timeout, cancel). Start a new stream to say more.
    """


class RealtimeStreamError(SessionClosed):
    """The realtime stream ended in ``error`` on the service side.

    Attributes:
        stream_id: the stream.
        error_message: the service's ``error_message`` (may be None).
        reason: ``"error"``.
    """

    def __init__(self, message: str, *, stream_id: str | None, error_message: str | None) -> None:
        self.stream_id = stream_id
        self.error_message = error_message
        super().__init__(message, reason="error")
