"""What every kind of session shares: its lifecycle, its options, its ending, the registry.

A session kind (v1's `Session`, v3's `RealtimeSession`, `LiveAvatarSession`) keeps its own
state enum and transition table, as data, and changes state only through one
`Lifecycle.transition` (``lifecycle``); it checks its options with `check_options`
(``options``). Its client tracks it in a `SessionRegistry` (``registry``) from the moment
the client's factory made it; the client's ``aclose()`` ends every session still open,
under one bound. Ending a billed session is cleanup that cancellation must not cut short
(``ending``): `end_on_server` sends the ending call until confirmed, `finish` runs a close
task to its end.

A kind with live media (v1, LiveAvatar) also shares its connect machinery
(`core.MediaSessionCore`) and the shared half of its public facade (`facade.MediaSession`).

To plug a new kind in: implement `TrackedSession` (three members), keep a `Lifecycle`, and
have its client ``add`` each session it makes to its registry. This package imports only
`_errors`, `_http` and `_media`, never an API package.
"""

from __future__ import annotations

from .ending import end_on_server, finish
from .lifecycle import Lifecycle
from .options import check_options
from .registry import CLOSE_MARGIN, SessionRegistry, TrackedSession

__all__ = [
    "CLOSE_MARGIN",
    "Lifecycle",
    "SessionRegistry",
    "TrackedSession",
    "check_options",
    "end_on_server",
    "finish",
]
