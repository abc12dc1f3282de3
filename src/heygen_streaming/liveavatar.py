"""LiveAvatar's public names: ``from heygen_streaming.liveavatar import SpeakEnded, ...``.

`LiveAvatarClient`, `LiveAvatarSession`, `LiveAvatarState`, `LiveAvatarEndReason` and
`LiveAvatarMode` are also at the top of the package. The event classes live here: their
names are LiveAvatar's (v1 has a `SessionEnded` of its own at the top). Names load on first
use, like the package's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _lazy

if TYPE_CHECKING:
    from ._liveavatar.client import LiveAvatarClient
    from ._liveavatar.events import (
        AgentState,
        EventStream,
        Interrupted,
        LiveAvatarEvent,
        RawEvent,
        ServerError,
        SessionEnded,
        SpeakEnded,
        SpeakStarted,
        StateChanged,
        Transcription,
        UserSpeaking,
    )
    from ._liveavatar.models import (
        Avatar,
        Credits,
        SessionInfo,
        Transcript,
        TranscriptEntry,
        Voice,
    )
    from ._liveavatar.options import LiveAvatarMode
    from ._liveavatar.session import LiveAvatarSession
    from ._liveavatar.state import LiveAvatarEndReason, LiveAvatarState
    from ._liveavatar.wire import SessionStop, SessionToken, StartedSession

_MODULES = {
    "._liveavatar.client": ["LiveAvatarClient"],
    "._liveavatar.session": ["LiveAvatarSession"],
    "._liveavatar.state": ["LiveAvatarEndReason", "LiveAvatarState"],
    "._liveavatar.options": ["LiveAvatarMode"],
    "._liveavatar.events": [
        "AgentState",
        "EventStream",
        "Interrupted",
        "LiveAvatarEvent",
        "RawEvent",
        "ServerError",
        "SessionEnded",
        "SpeakEnded",
        "SpeakStarted",
        "StateChanged",
        "Transcription",
        "UserSpeaking",
    ],
    "._liveavatar.models": [
        "Avatar",
        "Credits",
        "SessionInfo",
        "Transcript",
        "TranscriptEntry",
        "Voice",
    ],
    "._liveavatar.wire": ["SessionStop", "SessionToken", "StartedSession"],
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "AgentState",
    "Avatar",
    "Credits",
    "EventStream",
    "Interrupted",
    "LiveAvatarClient",
    "LiveAvatarEndReason",
    "LiveAvatarEvent",
    "LiveAvatarMode",
    "LiveAvatarSession",
    "LiveAvatarState",
    "RawEvent",
    "ServerError",
    "SessionEnded",
    "SessionInfo",
    "SessionStop",
    "SessionToken",
    "SpeakEnded",
    "SpeakStarted",
    "StartedSession",
    "StateChanged",
    "Transcript",
    "TranscriptEntry",
    "Transcription",
    "UserSpeaking",
    "Voice",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    return _lazy.load(name, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
