"""Every private aiortc internal the emulator's peer relies on, in one place.

Each hook returns False when this aiortc version lacks the internal, and
``tests/e2e/test_emulator_webrtc.py`` fails loudly if one disappears. (The key-frame request
hook, ``RTCRtpSender._send_keyframe``, lives with the encoder: `encoder.watch_keyframe_requests`.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["ignore_nacks"]


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
