"""Every private aiortc internal the emulator relies on, in one place.

Each hook returns False when this aiortc version lacks the internal, and
``tests/e2e/test_emulator_webrtc.py`` fails loudly if one disappears.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

__all__ = ["ignore_nacks", "watch_keyframe_requests"]


def ignore_nacks(sender: Any) -> bool:
    """Make aiortc's ``sender`` ignore NACKs (``RTCRtpSender._retransmit``).

    aiortc retransmits on every NACK even when none was negotiated; pion, which HeyGen ran,
    does not when the offer has no ``nack`` feedback (the emulator's ``retransmit=False``).
    """
    if not callable(getattr(sender, "_retransmit", None)):
        return False

    async def retransmit(sequence_number: int) -> None:
        del sequence_number

    sender._retransmit = retransmit
    return True


def watch_keyframe_requests(sender: Any, callback: Callable[[], None]) -> bool:
    """Call ``callback`` whenever aiortc's ``sender`` is asked for a keyframe (PLI/FIR).

    Returns False when this aiortc version has no such hook (periodic keyframes remain).
    """
    original = getattr(sender, "_send_keyframe", None)
    if not callable(original):
        return False

    def send_keyframe() -> None:
        callback()
        with contextlib.suppress(Exception):
            original()

    sender._send_keyframe = send_keyframe
    return True
