"""Start-up tuning: the official LiveKit client loads while the service answers.

A fresh process's first session imports ``livekit.rtc`` and starts its native runtime
(about 80-100 ms), then PyAV, numpy and the socket library. Done before the requests,
that time would add to the connect; so each request goes out first and the loading runs
on the loop once its body is on the wire (``_http.trace.send_then_load``), while the service
works: the LiveKit client during ``/v1/sessions/token``, the media modules during
``/v1/sessions/start``. Later sessions find everything loaded and skip this.
"""

from __future__ import annotations

import sys
from importlib import import_module

from .._http.trace import Loader

__all__ = ["start_loader", "token_loader"]

ROOM = "heygen_streaming._liveavatar.room"
SOCKET = "heygen_streaming._liveavatar.lite_socket"


_started = False  # the LiveKit client's native runtime runs (set by _load_livekit)


def token_loader() -> Loader | None:
    """What the token call loads meanwhile (the LiveKit client); None if loaded."""
    return None if _started else _load_livekit


def start_loader(lite: bool) -> Loader | None:
    """What the start call loads meanwhile (the media modules, and the LiveKit client when
    no token call came first); None if loaded."""
    modules = (ROOM, SOCKET) if lite else (ROOM,)
    if _started and all(m in sys.modules for m in modules):
        return None

    def load() -> None:
        if not _started:
            _load_livekit()
        for module in modules:
            import_module(module)

    return load


def _load_livekit() -> None:
    global _started
    from livekit import rtc

    # the first request starts the client's native runtime (threads, libwebrtc)
    frame = rtc.VideoFrame(2, 2, rtc.VideoBufferType.RGBA, bytearray(16))
    frame.convert(rtc.VideoBufferType.I420)
    _started = True
