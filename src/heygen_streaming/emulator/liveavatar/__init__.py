"""HeyGen LiveAvatar (api.liveavatar.com) for the emulator: REST, a LiveKit room, LITE socket."""

from __future__ import annotations
