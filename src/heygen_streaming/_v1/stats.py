"""Typed inbound statistics: aiortc's ``getStats`` plus the SDK's own frame counters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InboundStats", "SessionStats", "build_inbound", "collect_stats"]

# RTP clock rates, to turn aiortc's jitter (RTP timestamp units) into seconds.
_CLOCK_RATES = {"video": 90_000, "audio": 48_000}


@dataclass(frozen=True, kw_only=True)
class InboundStats:
    """Inbound statistics of one received track.

    Attributes:
        kind: ``"video"`` or ``"audio"``.
        ssrc: the RTP synchronisation source (None before the first packet).
        packets_received: RTP packets received (aiortc).
        packets_lost: RTP packets lost (aiortc; from sequence-number gaps).
        jitter: interarrival jitter in seconds (aiortc, RFC 3550).
        bytes_received: RTP payload bytes received (SDK counter).
        frames_decoded: frames the decoder produced (SDK counter).
        frames_dropped: frames dropped across this kind's streams because readers were slow.
        fps: frames per second over the last ~2 s.
        first_frame_after: seconds from session start to this kind's first frame.
    """

    kind: str
    ssrc: int | None = None
    packets_received: int = 0
    packets_lost: int = 0
    jitter: float = 0.0
    bytes_received: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0
    fps: float = 0.0
    first_frame_after: float | None = None


@dataclass(frozen=True, kw_only=True)
class SessionStats:
    """What `Session.stats` returns.

    Attributes:
        video, audio: per-kind inbound stats (zeros before media arrives).
        connection_state: aiortc's ``connectionState``.
        transport_bytes_received / transport_packets_received: the bundled transport's
            totals (RTP, RTCP, DTLS and data channel).
        timestamp: wall-clock time of the snapshot.
        raw: aiortc's stats objects by id, for anything not mapped here.
    """

    video: InboundStats
    audio: InboundStats
    connection_state: str = "new"
    transport_bytes_received: int = 0
    transport_packets_received: int = 0
    timestamp: float = field(default_factory=time.time)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def build_inbound(
    kind: str,
    report: dict[str, Any],
    *,
    bytes_received: int,
    frames_decoded: int,
    frames_dropped: int,
    fps: float,
    first_frame_after: float | None,
) -> InboundStats:
    """Map the ``inbound-rtp`` entry of a receiver's stats report (if any) plus counters."""
    ssrc: int | None = None
    packets = lost = 0
    jitter = 0.0
    for stat in report.values():
        if getattr(stat, "type", None) == "inbound-rtp" and getattr(stat, "kind", kind) == kind:
            ssrc = getattr(stat, "ssrc", None)
            packets += int(getattr(stat, "packetsReceived", 0) or 0)
            lost += max(0, int(getattr(stat, "packetsLost", 0) or 0))
            jitter = max(jitter, float(getattr(stat, "jitter", 0) or 0) / _CLOCK_RATES[kind])
    return InboundStats(
        kind=kind,
        ssrc=ssrc,
        packets_received=packets,
        packets_lost=lost,
        jitter=jitter,
        bytes_received=bytes_received,
        frames_decoded=frames_decoded,
        frames_dropped=frames_dropped,
        fps=fps,
        first_frame_after=first_frame_after,
    )


async def collect_stats(peer: Any, fanouts: dict[str, Any], started_at: float) -> SessionStats:
    """A `SessionStats` from a ``Peer`` (or None) and the per-kind ``FrameFanout``."""
    reports: dict[str, dict[str, Any]] = await peer.receiver_stats() if peer else {}
    byte_counts: dict[str, int] = peer.bytes_received if peer else {}
    raw: dict[str, Any] = {}
    for report in reports.values():
        raw.update(report)
    transport_bytes = transport_packets = 0
    for stat in raw.values():
        if getattr(stat, "type", None) == "transport":
            transport_bytes = max(transport_bytes, int(getattr(stat, "bytesReceived", 0)))
            transport_packets = max(transport_packets, int(getattr(stat, "packetsReceived", 0)))
    per_kind = {}
    for kind in ("video", "audio"):
        fanout = fanouts[kind]
        first = fanout.first_frame_at - started_at if fanout.first_frame_at is not None else None
        per_kind[kind] = build_inbound(
            kind,
            reports.get(kind, {}),
            bytes_received=byte_counts.get(kind, 0),
            frames_decoded=fanout.frames,
            frames_dropped=fanout.dropped,
            fps=fanout.fps(),
            first_frame_after=first,
        )
    return SessionStats(
        video=per_kind["video"],
        audio=per_kind["audio"],
        connection_state=peer.state if peer else "new",
        transport_bytes_received=transport_bytes,
        transport_packets_received=transport_packets,
        raw=raw,
    )
