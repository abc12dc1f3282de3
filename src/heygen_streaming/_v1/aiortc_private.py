"""Every use of aiortc/aioice internals by the SDK, in one place.

Each is a last resort, listed in `INTERNALS` and checked by a test that fails loudly
when an aiortc or aioice release removes it. At run time a missing internal only
disables the feature it backs (byte counters, the gathering bound); it never breaks a
session.

* ``RTCRtpReceiver._handle_rtp_packet``: wrapped to count RTP payload bytes per kind.
* ``RTCIceGatherer._connection`` and aioice's ``Connection.get_component_candidates(timeout=)``:
  to bound STUN/TURN gathering (aioice waits 5 s for an unreachable server).
* ``aiortc.rtcicetransport.parse_stun_turn_uri``: the parser aiortc applies to each ICE
  server URL, so a URL it would reject can be skipped before it fails the whole offer.
* ``RTCRtpReceiver._handle_disconnect``: stops a receiver's decoder thread at once, as
  aiortc does on a transport error. The threads are not daemons and aiortc stops them
  only in a close that runs to its end: one cut short (a second Ctrl-C) left the process
  hanging at exit.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "INTERNALS",
    "count_rtp_bytes",
    "limit_gathering",
    "missing_internals",
    "parse_ice_url",
    "stop_decoders",
]

INTERNALS = (
    "aiortc.RTCRtpReceiver._handle_rtp_packet",
    "aiortc.RTCIceGatherer._connection",
    "aioice.Connection.get_component_candidates(timeout=)",
    "aiortc.rtcicetransport.parse_stun_turn_uri",
    "aiortc.RTCRtpReceiver._handle_disconnect",
)


def missing_internals() -> list[str]:
    """The entries of `INTERNALS` the installed aiortc/aioice lack (empty when all exist)."""
    import aioice
    from aiortc import RTCIceGatherer, RTCRtpReceiver, rtcicetransport

    missing = []
    if not callable(getattr(RTCRtpReceiver, "_handle_rtp_packet", None)):
        missing.append(INTERNALS[0])
    if not hasattr(RTCIceGatherer(), "_connection"):
        missing.append(INTERNALS[1])
    method = getattr(aioice.Connection, "get_component_candidates", None)
    if method is None or "timeout" not in inspect.signature(method).parameters:
        missing.append(INTERNALS[2])
    if not callable(getattr(rtcicetransport, "parse_stun_turn_uri", None)):
        missing.append(INTERNALS[3])
    if not callable(getattr(RTCRtpReceiver, "_handle_disconnect", None)):
        missing.append(INTERNALS[4])
    return missing


def parse_ice_url(url: str) -> None:
    """Raise ValueError if aiortc would reject ``url`` (``stun:``/``turn:`` URL syntax)."""
    from aiortc.rtcicetransport import parse_stun_turn_uri

    parse_stun_turn_uri(url)


def count_rtp_bytes(pc: Any, counts: dict[str, int]) -> None:
    """Add each received RTP packet's payload size to ``counts[kind]`` (if the hook exists)."""
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        kind = transceiver.kind
        original = getattr(receiver, "_handle_rtp_packet", None)
        if original is None or kind not in counts:
            continue
        setattr(receiver, "_handle_rtp_packet", _counting(original, counts, kind))  # noqa: B010


def _counting(
    original: Callable[..., Awaitable[None]], counts: dict[str, int], kind: str
) -> Callable[..., Awaitable[None]]:
    async def counting(packet: Any, *args: Any, **kwargs: Any) -> None:
        counts[kind] += len(packet.payload) + getattr(packet, "padding_size", 0)
        await original(packet, *args, **kwargs)

    return counting


def limit_gathering(pc: Any, seconds: float) -> None:
    """Bound aioice's STUN/TURN wait through its ``timeout`` argument (no-op if missing)."""
    for transceiver in pc.getTransceivers():
        gatherer = getattr(transceiver.receiver.transport.transport, "iceGatherer", None)
        connection = getattr(gatherer, "_connection", None)
        original = getattr(connection, "get_component_candidates", None)
        if original is None or getattr(original, "_heygen_limited", False):
            continue

        async def limited(*args: Any, _orig: Any = original, **kwargs: Any) -> Any:
            kwargs["timeout"] = seconds
            return await _orig(*args, **kwargs)

        limited._heygen_limited = True  # type: ignore[attr-defined]
        setattr(connection, "get_component_candidates", limited)  # noqa: B010


def stop_decoders(pc: Any) -> None:
    """Stop the decoder thread of each of ``pc``'s receivers now (idempotent; no-op if the
    hook is missing). Synchronous, so a cancelled close cannot skip it."""
    for transceiver in pc.getTransceivers():
        stop = getattr(transceiver.receiver, "_handle_disconnect", None)
        if stop is not None:
            stop()
