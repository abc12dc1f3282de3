"""The emulator's WebRTC side: one aiortc peer per session that makes the offer.

The offer carries a video and an audio section (sendonly, one MediaStream) and, after them,
an ``m=application`` section: the server-created data channel on which the session sends
its JSON talking events (as HeyGen's v1 service does; clients see it via ``ondatachannel``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from .avatar import AvatarAudioTrack, AvatarState, AvatarVideoTrack
from .encoder import watch_keyframe_requests

__all__ = ["EmulatorPeer", "parse_candidate"]

logger = logging.getLogger("heygen_streaming.emulator")

CLOSE_TIMEOUT = 5.0
CHANNEL_LABEL = "heygen"
MAX_PENDING_MESSAGES = 64


_SESSION_ATTRS = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:")


def accept_rejected_application(sdp: str) -> tuple[str, bool]:
    """Make an answer that rejects the data channel (``m=application 0``) acceptable to
    aiortc, which otherwise refuses it: copy the ICE/DTLS attributes of the first section
    into the rejected one and keep it in the BUNDLE group. Returns (sdp, rejected)."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    if not starts:
        return sdp, False
    sections = [lines[a:b] for a, b in zip(starts, [*starts[1:], len(lines)], strict=True)]
    first = sections[0]
    rejected: list[str] = []
    for section in sections:
        if not section[0].startswith("m=application 0 "):
            continue
        rejected += [line[len("a=mid:") :] for line in section if line.startswith("a=mid:")]
        for prefix in _SESSION_ATTRS:
            if not any(line.startswith(prefix) for line in section):
                section.extend(line for line in first if line.startswith(prefix))
        if not any(line.startswith("a=sctp-port:") for line in section):
            section.append("a=sctp-port:5000")
    if not rejected:
        return sdp, False
    # Keep it on the bundled transport (else aiortc waits for a transport that never
    # connects): aiortc's SCTP then simply gets no answer.
    session = [
        line + "".join(f" {mid}" for mid in rejected if mid not in line.split()[1:])
        if line.startswith("a=group:BUNDLE ")
        else line
        for line in lines[: starts[0]]
    ]
    out = [line for line in session if line] + [line for sec in sections for line in sec if line]
    return "\r\n".join(out) + "\r\n", True


def parse_candidate(text: str) -> RTCIceCandidate:
    """Parse ``candidate:...`` (browser style) or a bare candidate line; ValueError if bad."""
    line = text.strip()
    line = line.removeprefix("a=").removeprefix("candidate:")
    try:
        candidate = candidate_from_sdp(line)
    except (AssertionError, ValueError, IndexError) as exc:
        raise ValueError("malformed ICE candidate") from exc
    if candidate.protocol.lower() not in ("udp", "tcp") or not candidate.ip:
        raise ValueError("malformed ICE candidate")
    if not 0 < candidate.port < 65536 or candidate.component not in (1, 2):
        raise ValueError("malformed ICE candidate")
    return candidate


class EmulatorPeer:
    """An aiortc peer sending the avatar's video and audio on one MediaStream, plus a
    server-created data channel for event messages (`send_message`)."""

    def __init__(
        self, state: AvatarState, *, video_codec: str = "VP8", fast_vp8: bool = True
    ) -> None:
        self.state = state
        self.video_codec = video_codec
        self.fast_vp8 = fast_vp8
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.video = AvatarVideoTrack(state)
        self.audio = AvatarAudioTrack(state)
        self.bundle_mid: str | None = None
        self.answered = False
        self._pending: list[RTCIceCandidate] = []
        self._end_of_candidates = False
        self._closed = False
        self._adding: set[asyncio.Task[None]] = set()
        self.channel: Any = None
        self._unsent: collections.deque[str] = collections.deque(maxlen=MAX_PENDING_MESSAGES)
        self.messages_sent = 0
        self.channel_rejected = False

    async def make_offer(self) -> str:
        """Create the offer (video, audio sendonly; then the data channel); return its SDP."""
        video = self.pc.addTransceiver(self.video, direction="sendonly")
        self.pc.addTransceiver(self.audio, direction="sendonly")
        # Created before createOffer so the offer has an m=application section (aiortc
        # places it after the audio/video sections; the BUNDLE tag stays the video mid).
        self.channel = self.pc.createDataChannel(CHANNEL_LABEL)
        self.channel.on("open", self._flush)
        codecs = RTCRtpSender.getCapabilities("video").codecs
        wanted = f"video/{self.video_codec}".lower()
        chosen = [c for c in codecs if c.mimeType.lower() == wanted]
        rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"]
        if chosen:
            video.setCodecPreferences(chosen + rtx)
        if wanted == "video/vp8" and self.fast_vp8:
            self.video.encode_vp8()
            watch_keyframe_requests(video.sender, self.video.request_keyframe)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp: str = self.pc.localDescription.sdp
        for line in sdp.splitlines():
            if line.startswith("a=group:BUNDLE"):
                mids = line.split()[1:]
                self.bundle_mid = mids[0] if mids else None
                break
        return sdp

    async def apply_answer(self, sdp: str) -> None:
        """Apply the client's answer, then the candidates buffered before it."""
        if not sdp.strip().startswith("v=") or "m=" not in sdp:
            raise ValueError("not an SDP answer")
        sdp, self.channel_rejected = accept_rejected_application(sdp)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:  # aiortc raises many types on bad SDP
            raise ValueError(f"invalid SDP answer: {type(exc).__name__}") from exc
        self.answered = True
        pending, self._pending = self._pending, []
        for candidate in pending:
            self._add(candidate)
        if self._end_of_candidates:
            self._add(None)

    async def add_candidate(self, text: str) -> None:
        """Add a remote candidate (buffered until the answer); empty = end-of-candidates."""
        if not text.strip():
            self._end_of_candidates = True
            if self.answered:
                self._add(None)
            return
        candidate = parse_candidate(text)
        # aiortc drops candidates for non-first BUNDLE mids: use the bundle tag.
        candidate.sdpMid = self.bundle_mid
        candidate.sdpMLineIndex = 0
        if self.answered:
            self._add(candidate)
        else:
            self._pending.append(candidate)

    def _add(self, candidate: RTCIceCandidate | None) -> None:
        """Add in the background: an mDNS (``.local``) candidate takes aioice up to 1 s to
        resolve, which must not hold up the HTTP answer."""
        if self._closed:
            return
        task = asyncio.create_task(self._add_now(candidate))
        self._adding.add(task)
        task.add_done_callback(self._adding.discard)

    async def _add_now(self, candidate: RTCIceCandidate | None) -> None:
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # e.g. a duplicate end-of-candidates: not fatal
            logger.debug("ignored remote candidate: %s", type(exc).__name__)

    def send_message(self, message: dict[str, Any]) -> None:
        """Send a JSON text message on the data channel.

        Queued (at most 64, oldest dropped) until the channel opens; dropped once it is
        closed or when the client rejected it (a client may ignore the channel entirely).
        """
        if self._closed or self.channel is None or self.channel_rejected:
            return
        text = json.dumps(message, separators=(",", ":"))
        state = self.channel.readyState
        if state == "open":
            self._send(text)
        elif state == "connecting":
            self._unsent.append(text)

    def _flush(self) -> None:
        while self._unsent and not self._closed:
            self._send(self._unsent.popleft())

    def _send(self, text: str) -> None:
        try:
            self.channel.send(text)
        except Exception as exc:  # closing under our feet: events are best effort
            logger.debug("data channel send failed: %s", type(exc).__name__)
        else:
            self.messages_sent += 1

    @property
    def connection_state(self) -> str:
        """The peer's connectionState."""
        state: str = self.pc.connectionState
        return state

    async def close(self, *, abrupt: bool = False) -> None:
        """Close the peer (bounded by 5 s); ``abrupt`` stops ICE first (no DTLS alert)."""
        if self._closed:
            return
        self._closed = True
        self._unsent.clear()
        for task in list(self._adding):
            task.cancel()
        self.state.thaw()
        self.video.stop()
        self.audio.stop()
        if abrupt:
            for transceiver in self.pc.getTransceivers():
                transport: Any = transceiver.sender.transport
                if transport is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(transport.transport.stop(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), CLOSE_TIMEOUT)
