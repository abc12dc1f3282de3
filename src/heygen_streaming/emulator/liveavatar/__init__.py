"""HeyGen LiveAvatar (api.liveavatar.com) for the emulator: REST, a LiveKit room, LITE socket.

`LiveAvatarApi` is the route table (an `ApiVersion` of the emulator's core, see `.api`);
`LiveAvatarOptions` its limits. A started session gets a room on the emulator's LiveKit
room server (`heygen_streaming.emulator.livekit`) with the one avatar in it (`.media`);
FULL sessions take commands on the room's data topics (`.full`), LITE sessions on their
control socket (`.lite` is the protocol, sans I/O; `.lite_socket` the WebSocket).
"""

from __future__ import annotations

from .api import LiveAvatarApi
from .options import LiveAvatarOptions, add_cli_arguments, options_from_args
from .sessions import STOP_REASONS, LaRegistry, LaSession

__all__ = [
    "STOP_REASONS",
    "LaRegistry",
    "LaSession",
    "LiveAvatarApi",
    "LiveAvatarOptions",
    "add_cli_arguments",
    "options_from_args",
]
