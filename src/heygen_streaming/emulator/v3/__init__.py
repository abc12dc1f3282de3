"""Avatar Realtime (``/v3/avatar-realtime``) for the emulator: live HLS streams.

`V3Api` is the route table (an `ApiVersion` of the emulator's core); `RealtimeOptions`
holds its limits. Media is produced per stream by a worker thread (`.worker`) that plays
word-aligned synthetic speech (`.voice`) or user audio (`.audio`), draws the avatar
(`.frames`) and writes H.264/AAC fMP4 HLS with PyAV (`.hls`).
"""

from __future__ import annotations

from .api import V3Api
from .options import RealtimeOptions, add_cli_arguments, options_from_args
from .streams import RealtimeRegistry, RealtimeStream, Status

__all__ = [
    "RealtimeOptions",
    "RealtimeRegistry",
    "RealtimeStream",
    "Status",
    "V3Api",
    "add_cli_arguments",
    "options_from_args",
]
