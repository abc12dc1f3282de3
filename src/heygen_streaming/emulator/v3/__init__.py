"""Avatar Realtime (``/v3/avatar-realtime``) for the emulator: live HLS streams.

`RealtimeApi` is an aiohttp sub-application (routes in `.routes`); `RealtimeOptions`
holds its limits. Media is produced per stream by a worker thread (`.worker`) that plays
word-aligned synthetic speech (`.voice`) or user audio, draws the avatar (`.frames`) and
writes H.264/AAC fMP4 HLS with PyAV (`.hls`).
"""

from __future__ import annotations

from .options import RealtimeOptions, add_cli_arguments, options_from_args
from .routes import RealtimeApi
from .streams import RealtimeRegistry, RealtimeStream, Status

__all__ = [
    "RealtimeApi",
    "RealtimeOptions",
    "RealtimeRegistry",
    "RealtimeStream",
    "Status",
    "add_cli_arguments",
    "options_from_args",
]
