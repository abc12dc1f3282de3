"""One aiortc peer connection of a client: remote ICE candidates (queued until the remote
description is set, capped), the server's ``_reliable``/``_lossy`` data channels, and a
bounded close.

aiortc never trickles its own candidates (they are in its SDP, gathered before it returns a
description); the client trickles its own, before or after the server has its description.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription

from ..sdp import MAX_REMOTE_CANDIDATES, MAX_REMOTE_SSRC_LINES, cap_candidates, parse_candidate
from . import sdp as sdp_edit
from .wire import parse_candidate_init

__all__ = ["MAX_SECTIONS", "MAX_UNSENT_PACKETS", "RoomPeer"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")

CLOSE_TIMEOUT = 5.0
MAX_UNSENT_PACKETS = 64
MAX_SECTIONS = 64
"""Most m-sections accepted in a client's description (aiortc makes a transceiver for each;
the official clients use about ten)."""
RELIABLE, LOSSY = "_reliable", "_lossy"


class RoomPeer:
    """An ``RTCPeerConnection`` (``iceServers=[]``) with LiveKit's data channel labels.

    ``on_data(payload, reliable)`` gets every message a client sends on its ``_reliable``
    or ``_lossy`` channel (other labels, e.g. ``_data_track``, are ignored).
    """

    def __init__(self, on_data: Callable[[bytes, bool], None]) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.remote_candidates = 0
        self.ignored_candidates = 0
        self._on_data = on_data
        self._bundle_mid: str | None = None
        self._remote_set = False
        self._pending: list[RTCIceCandidate | None] = []
        self._adding: set[asyncio.Task[None]] = set()
        self._channels: dict[bool, Any] = {}
        self._unsent: dict[bool, collections.deque[bytes]] = {
            True: collections.deque(maxlen=MAX_UNSENT_PACKETS),
            False: collections.deque(maxlen=MAX_UNSENT_PACKETS),
        }
        self._closed = False
        self.pc.on("datachannel", self._client_channel)

    # -- data channels ---------------------------------------------------------------------
    def open_channels(self) -> None:
        """Create the server's ``_reliable`` (ordered) and ``_lossy`` (unordered, no
        retransmission) channels, once (before the server's first description)."""
        if self._channels:
            return
        self._channels[True] = self.pc.createDataChannel(RELIABLE, ordered=True)
        self._channels[False] = self.pc.createDataChannel(LOSSY, ordered=False, maxRetransmits=0)
        for reliable, channel in self._channels.items():
            channel.on("open", lambda reliable=reliable: self._flush(reliable))

    def send(self, packet: bytes, reliable: bool) -> None:
        """Send on the server's channel; queued (64, oldest dropped) until it opens."""
        channel = self._channels.get(reliable)
        if channel is None or self._closed:
            return
        if channel.readyState == "open":
            self._send(channel, packet)
        elif channel.readyState == "connecting":
            self._unsent[reliable].append(packet)

    def _flush(self, reliable: bool) -> None:
        channel = self._channels[reliable]
        while self._unsent[reliable] and not self._closed:
            self._send(channel, self._unsent[reliable].popleft())

    @staticmethod
    def _send(channel: Any, packet: bytes) -> None:
        try:
            channel.send(packet)
        except Exception as exc:  # closing under our feet: data is best effort then
            logger.debug("data channel send failed: %s", type(exc).__name__)

    def _client_channel(self, channel: Any) -> None:
        label = channel.label
        if label not in (RELIABLE, LOSSY):
            return
        reliable = label == RELIABLE

        def message(data: bytes | str) -> None:
            if isinstance(data, bytes) and not self._closed:
                self._on_data(data, reliable)

        channel.on("message", message)

    # -- descriptions and candidates ----------------------------------------------------------
    async def set_remote(self, sdp: str, kind: str) -> None:
        """Apply the client's offer or answer (candidates and ``a=ssrc`` lines capped, as
        aioice and aiortc match those in quadratic time), then the queued candidates.
        ValueError when it is not SDP with an m-section, or aiortc refuses it."""
        if not sdp.lstrip().startswith("v=") or not sdp_edit.sections(sdp):
            raise ValueError(f"not an SDP {kind}")
        if len(sdp_edit.sections(sdp)) > MAX_SECTIONS:
            raise ValueError(f"SDP {kind} with more than {MAX_SECTIONS} m-sections")
        sdp, dropped = cap_candidates(sdp, MAX_REMOTE_CANDIDATES)
        if dropped:
            logger.info("%s: ignored %d candidates beyond %d", kind, dropped, MAX_REMOTE_CANDIDATES)
        sdp, _ = cap_candidates(sdp, MAX_REMOTE_SSRC_LINES, prefix="a=ssrc:")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except Exception as exc:  # aiortc raises many types on bad SDP
            raise ValueError(f"invalid SDP {kind}: {type(exc).__name__}") from None
        if kind == "answer" or self._bundle_mid is None:
            self._bundle_mid = sdp_edit.bundle_mid(sdp)
        self._remote_set = True
        pending, self._pending = self._pending, []
        for candidate in pending:
            self._add(candidate)

    def add_candidate(self, candidate_init: str) -> None:
        """A trickled ``candidateInit``; ValueError when malformed. Beyond
        `MAX_REMOTE_CANDIDATES` a candidate is ignored (counted in ``ignored_candidates``)."""
        text, _, _ = parse_candidate_init(candidate_init)
        candidate: RTCIceCandidate | None = None
        if text.strip():
            candidate = parse_candidate(text)
            if self.remote_candidates >= MAX_REMOTE_CANDIDATES:
                self.ignored_candidates += 1
                return
            self.remote_candidates += 1
        elif None in self._pending:
            return
        if not self._remote_set:
            if len(self._pending) <= MAX_REMOTE_CANDIDATES:
                self._pending.append(candidate)
            return
        self._add(candidate)

    def _add(self, candidate: RTCIceCandidate | None) -> None:
        if self._closed:
            return
        if candidate is not None:
            # aiortc matches candidates to the bundled transport by its first mid.
            candidate.sdpMid = self._bundle_mid
            candidate.sdpMLineIndex = 0
        # In the background: an mDNS candidate takes aioice up to a second to resolve.
        task = asyncio.get_running_loop().create_task(self._add_now(candidate))
        self._adding.add(task)
        task.add_done_callback(self._adding.discard)

    async def _add_now(self, candidate: RTCIceCandidate | None) -> None:
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # e.g. a second end-of-candidates: not fatal
            logger.debug("ignored remote candidate: %s", type(exc).__name__)

    async def close(self) -> None:
        """Close the connection (bounded by 5 s)."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._adding):
            task.cancel()
        for queue in self._unsent.values():
            queue.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), CLOSE_TIMEOUT)
