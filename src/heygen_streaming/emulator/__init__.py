"""Offline emulator of HeyGen's streaming avatar APIs (optional extra ``[emulator]``).

``async with Emulator(api_key="test-key", port=0) as emu: emu.base_url`` runs a real
server in the current event loop, on one port: Streaming API v1 (retired by HeyGen, kept
here as captured: HTTP routes with its envelope, one aiortc peer per session sending a
synthetic avatar, video and speech-like audio; ``stamp=True`` adds frame stamps for loss
and latency measurements) and Avatar Realtime (v3: streams played over HLS, with word
timings) and LiveAvatar (its REST API, a LiveKit-compatible room the official clients join,
the LITE socket). One folder per API (``v1/``, ``v3/``, ``liveavatar/``, with the room
server in ``livekit/``), one synthetic avatar for all (``avatar/``). It imports nothing of
the SDK.
"""

from __future__ import annotations

from .avatar import FPS, RESOLUTIONS
from .avatar.stamp import Stamp, read_stamp, write_stamp
from .faults import Faults
from .server import Emulator

__all__ = ["FPS", "RESOLUTIONS", "Emulator", "Faults", "Stamp", "read_stamp", "write_stamp"]
