"""A LiveAvatar session's media and events on the SDK side: the shared `MediaHub`.

The room (`.room`) pumps the avatar's tracks into the hub's two `FrameFanout` objects,
each frame converted once (`.frames`); streams, recorders, events and the watchdog are
the shared ``_media.hub``'s, as in v1. The watchdog ends a session whose video stopped
for ``watchdog_timeout`` seconds (a room that stays up with nothing in it).
"""

from __future__ import annotations

from .._media import hub as _hub
from .events import LiveAvatarEvent, event_hub

__all__ = ["MediaHub"]


class MediaHub(_hub.MediaHub[LiveAvatarEvent]):
    """Frames and events of one session, from the room to every subscriber."""

    def __init__(self) -> None:
        super().__init__(event_hub())

    def last_media(self) -> float | None:
        """``time.monotonic()`` of the latest video frame (None before any). Audio does
        not count: the client's audio playout makes frames (silence, concealment) even
        when no packet arrives."""
        return self.fanouts["video"].last_frame_at
