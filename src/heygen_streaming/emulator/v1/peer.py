"""The emulator's WebRTC side: one aiortc peer per session that makes the offer.

The offer has HeyGen's captured shape (see `heygen_streaming.emulator.v1.offer`): video
(sendonly), audio (sendrecv) on one MediaStream, then an ``m=application`` section: the
server-created data channel on which the session sends its talking events as binary UTF-8
JSON (as HeyGen's v1 service did; clients see the channel via ``ondatachannel``).

The sender sends a key frame every ``keyframe_interval`` seconds; without RTCP feedback (the
captured default) that is how video recovers after loss, with it a PLI also gets one at
once. It still answers NACKs, which aiortc receivers send whatever was negotiated (an
aiortc receiver that gets no retransmission stalls ~10 s per lost packet: its 512-packet
jitter buffer waits for the hole); ``retransmit=False`` ignores them, as pion without
negotiated ``nack`` would.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from ..avatar import FPS, AvatarAudioTrack, AvatarState, AvatarVideoTrack
from ..rtc_private import ignore_nacks, watch_keyframe_requests
from ..sdp import parse_candidate
from .offer import MAX_REMOTE_CANDIDATES, MAX_REMOTE_SSRC_LINES, cap_candidates, pion_offer

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


class EmulatorPeer:
    """An aiortc peer sending the avatar's video and audio on one MediaStream, plus a
    server-created data channel for event messages (`send_message`)."""

    def __init__(
        self,
        state: AvatarState,
        *,
        video_codec: str = "VP8",
        fast_vp8: bool = True,
        rtcp_feedback: bool = False,
        keyframe_interval: float = 2.0,
        retransmit: bool = True,
    ) -> None:
        self.state = state
        self.video_codec = video_codec
        self.fast_vp8 = fast_vp8
        self.rtcp_feedback = rtcp_feedback
        self.keyframe_interval = keyframe_interval
        self.retransmit = retransmit
        config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        self.pc = RTCPeerConnection(config)
        self.video = AvatarVideoTrack(state)
        self.audio = AvatarAudioTrack(state)
        self.bundle_mid: str | None = None
        self.answered = False
        self._pending: list[RTCIceCandidate] = []
        self._end_of_candidates = False
        self._closed = False
        self._adding: set[asyncio.Task[None]] = set()
        self.channel: Any = None
        self._unsent: collections.deque[bytes] = collections.deque(maxlen=MAX_PENDING_MESSAGES)
        self.messages_sent = 0
        self.channel_rejected = False
        self.remote_candidates = 0
        self._drains: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._drain)

    def _drain(self, track: MediaStreamTrack) -> None:
        """Read and drop what the client sends on the sendrecv audio (aiortc would queue it
        without bound otherwise)."""

        async def drain() -> None:
            with contextlib.suppress(Exception):
                while True:
                    await track.recv()

        task = asyncio.create_task(drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def make_offer(self) -> str:
        """Create the offer in the captured shape (module docs); return its SDP."""
        video = self.pc.addTransceiver(self.video, direction="sendonly")
        audio = self.pc.addTransceiver(self.audio, direction="sendrecv")
        # Created before createOffer so the offer has an m=application section (aiortc
        # places it after the audio/video sections; the BUNDLE tag stays the video mid).
        self.channel = self.pc.createDataChannel(CHANNEL_LABEL)
        self.channel.on("open", self._flush)
        codecs = RTCRtpSender.getCapabilities("video").codecs
        wanted = f"video/{self.video_codec}".lower()
        chosen = [c for c in codecs if c.mimeType.lower() == wanted]
        rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"]
        if chosen:
            video.setCodecPreferences(chosen + (rtx if self.rtcp_feedback else []))
        opus = [
            c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"
        ]
        audio.setCodecPreferences(opus)
        if not self.rtcp_feedback and not self.retransmit:
            ignore_nacks(video.sender)
        if wanted == "video/vp8" and self.fast_vp8:
            # Periodic key frames in both modes: the only recovery without feedback, and a
            # bound on a freeze with it (a PLI or the key frame answering it can be lost too).
            self.video.encode_vp8(max(1, round(self.keyframe_interval * FPS)))
            if self.rtcp_feedback:
                watch_keyframe_requests(video.sender, self.video.request_keyframe)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = pion_offer(self.pc.localDescription.sdp, rtcp_feedback=self.rtcp_feedback)
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
        sdp, dropped = cap_candidates(sdp, MAX_REMOTE_CANDIDATES)
        if dropped:
            logger.info("answer: ignored %d candidates beyond %d", dropped, MAX_REMOTE_CANDIDATES)
        sdp, dropped = cap_candidates(sdp, MAX_REMOTE_SSRC_LINES, prefix="a=ssrc:")
        if dropped:
            logger.info("answer: ignored %d a=ssrc lines beyond %d", dropped, MAX_REMOTE_SSRC_LINES)
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
        if self.remote_candidates >= MAX_REMOTE_CANDIDATES:
            logger.debug("ignored a remote candidate beyond %d", MAX_REMOTE_CANDIDATES)
            return
        self.remote_candidates += 1
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
        """Send a message on the data channel as binary UTF-8 JSON (as pion's
        ``DataChannel.Send([]byte)`` did: HeyGen's JS SDK parses only binary messages).

        Queued (at most 64, oldest dropped) until the channel opens; dropped once it is
        closed or when the client rejected it (a client may ignore the channel entirely).
        """
        if self._closed or self.channel is None or self.channel_rejected:
            return
        data = json.dumps(message, separators=(",", ":")).encode()
        state = self.channel.readyState
        if state == "open":
            self._send(data)
        elif state == "connecting":
            self._unsent.append(data)

    def _flush(self) -> None:
        while self._unsent and not self._closed:
            self._send(self._unsent.popleft())

    def _send(self, data: bytes) -> None:
        try:
            self.channel.send(data)
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
        for task in [*self._adding, *self._drains]:
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
