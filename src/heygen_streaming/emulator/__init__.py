"""Offline HeyGen Streaming API v1 emulator (optional extra ``[emulator]``).

``async with Emulator(api_key="test-key", port=0) as emu: emu.base_url`` runs a real
server in the current event loop: HTTP routes with HeyGen's envelope, and one aiortc peer
per session sending a synthetic avatar (video, speech-like audio; ``stamp=True`` adds frame
stamps for loss and latency measurements).
"""

from __future__ import annotations

from .avatar import FPS, RESOLUTIONS
from .avatar.stamp import Stamp, read_stamp, write_stamp
from .faults import Faults
from .server import Emulator

__all__ = ["FPS", "RESOLUTIONS", "Emulator", "Faults", "Stamp", "read_stamp", "write_stamp"]
