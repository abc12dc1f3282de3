"""Media negotiation of one client, on either signalling path (see `session`).

The server participants' tracks are *placed* on the client's connection: on ``/rtc`` each
gets a new send-only section in the server's subscriber offer; on ``/rtc/v1`` each takes a
receive-only section of the client's offer (the video codec chosen by editing the offer,
`sdp.keep_codec`). Every sent section carries the msid ``"PA_xxx|TR_yyy"`` and is named in
``mid_to_track_id``.

A track is sent in its codec only (it may yield packets already encoded in it, which nothing
here re-encodes): on ``/rtc/v1`` a client whose offer lacks the codec does not get the track
(and is not asked for it again); on ``/rtc`` such a client fails to answer the offer (not
handled: every official client decodes H.264 and VP8).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender
from livekit.protocol import rtc

from ..rtc_private import watch_keyframe_requests
from . import sdp as sdp_edit
from .participant import PublishedTrack
from .peer import RoomPeer

__all__ = ["Negotiator"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")


class Negotiator:
    """Offers, answers and track placement for one client.

    ``publisher`` answers the client's offers (v0: its publisher connection; v1: the only
    one); ``subscriber`` (v0 only) is the connection the server offers on. ``tracks()``
    lists what the client should receive; ``send`` queues a signalling response.
    """

    def __init__(
        self,
        publisher: RoomPeer,
        subscriber: RoomPeer | None,
        *,
        tracks: Callable[[], list[PublishedTrack]],
        send: Callable[[rtc.SignalResponse], None],
        name: str,
    ) -> None:
        self.publisher = publisher
        self.subscriber = subscriber
        self._tracks = tracks
        self._send = send
        self._name = name
        self._lock = asyncio.Lock()
        self._placed: dict[str, tuple[PublishedTrack, str]] = {}  # track sid -> (track, mid)
        self._feeds: list[Any] = []  # the fanout tracks handed to aiortc senders
        self._offered: list[sdp_edit.Section] = []  # the client's last offer (v1)
        self._offer_id = 0
        self._awaiting_answer = False
        self._renegotiate = False
        self._trickled: set[RoomPeer] = set()
        self._unsendable: set[str] = set()  # tracks in a codec the client lacks
        self.closed = False

    def close(self) -> None:
        """Stop every feed (the fanouts stop reading for this client)."""
        self.closed = True
        for feed in self._feeds:
            feed.stop()

    async def start(self, publisher_offer: str | None) -> None:
        """The first negotiation: the subscriber offer (v0), or the answer to the offer
        embedded in the join request (v1)."""
        if self.subscriber is not None:
            await self.offer()
        elif publisher_offer:
            await self.answer(publisher_offer, 0)

    async def track_added(self) -> None:
        """A track was published (and announced): send it."""
        if self.subscriber is not None:
            await self.offer()
        elif self._offered:
            self._request_sections()

    def _unplaced(self) -> list[PublishedTrack]:
        return [
            t for t in self._tracks() if t.sid not in self._placed and t.sid not in self._unsendable
        ]

    def _stream_ids(self) -> dict[str, tuple[str, str]]:
        return {mid: (track.stream_id, track.sid) for track, mid in self._placed.values()}

    def _mid_map(self) -> dict[str, str]:
        return {mid: track.sid for track, mid in self._placed.values()}

    def _feed(self, transceiver: Any, track: PublishedTrack) -> Any:
        feed = track.fanout.subscribe()
        self._feeds.append(feed)
        if track.kind == "video" and callable(
            getattr(track.fanout.source, "request_keyframe", None)
        ):
            # A source that encodes its own video makes the key frame a PLI asks for.
            watch_keyframe_requests(transceiver.sender, track.fanout.request_keyframe)
        return feed

    async def offer(self) -> None:
        """(v0) Offer the subscriber connection: the server's channels and every track."""
        assert self.subscriber is not None
        async with self._lock:
            if self.closed:
                return
            if self._awaiting_answer:
                self._renegotiate = True
                return
            pc = self.subscriber.pc
            self.subscriber.open_channels()
            added = []
            for track in self._unplaced():
                transceiver = pc.addTransceiver(track.kind, direction="sendonly")
                transceiver.sender.replaceTrack(self._feed(transceiver, track))
                transceiver.setCodecPreferences(_codecs(track))
                added.append((track, transceiver))
            await pc.setLocalDescription(await pc.createOffer())
            for track, transceiver in added:
                self._placed[track.sid] = (track, str(transceiver.mid))
            sdp = sdp_edit.set_stream_ids(pc.localDescription.sdp, self._stream_ids())
            self._awaiting_answer = True
            self._offer_id += 1
            self._send(rtc.SignalResponse(offer=self._description("offer", sdp, self._offer_id)))
            self._trickle(self.subscriber, sdp, rtc.SUBSCRIBER)

    async def answered(self, sdp: str) -> None:
        """(v0) The client's answer to the subscriber offer."""
        if self.subscriber is None:
            return  # the server never offers on the single connection
        async with self._lock:
            if not self._awaiting_answer:
                return
            try:
                await self.subscriber.set_remote(sdp, "answer")
            except ValueError as exc:
                logger.info("%s: %s", self._name, exc)
                return
            self._awaiting_answer = False
            again, self._renegotiate = self._renegotiate, False
        if again:
            await self.offer()

    async def answer(self, sdp: str, offer_id: int) -> None:
        """Answer a client's offer (v0 publisher; v1 the one connection, carrying tracks)."""
        async with self._lock:
            if self.closed:
                return
            offered = sdp_edit.sections(sdp)
            placing: dict[str, tuple[PublishedTrack, str]] = {}
            if self.subscriber is None:
                used = {mid for _, mid in self._placed.values()}
                for track in self._unplaced():
                    section = next(
                        (
                            s
                            for s in offered
                            if s.kind == track.kind
                            and s.direction == "recvonly"
                            and s.mid
                            and s.mid not in used
                        ),
                        None,
                    )
                    if section is not None:
                        placing[track.sid] = (track, section.mid)
                        used.add(section.mid)
                for codec in ("h264", "vp8"):
                    mids = {
                        mid
                        for track, mid in placing.values()
                        if track.kind == "video" and track.codec == codec
                    }
                    if mids:
                        sdp, missing = sdp_edit.keep_codec(sdp, mids, codec)
                        if missing:  # packets cannot be re-encoded: not for this client
                            skipped = {k for k, v in placing.items() if v[1] in missing}
                            self._unsendable |= skipped
                            placing = {k: v for k, v in placing.items() if k not in skipped}
                        if missing:
                            logger.info("%s offers no %s on %s", self._name, codec, missing)
            try:
                await self.publisher.set_remote(sdp, "offer")
            except ValueError as exc:
                logger.info("%s: %s", self._name, exc)
                return
            self._offered = offered
            pc = self.publisher.pc
            if self.subscriber is None:
                self.publisher.open_channels()
            for sid, (track, mid) in placing.items():
                transceiver = next((t for t in pc.getTransceivers() if t.mid == mid), None)
                if transceiver is None:
                    continue
                transceiver.sender.replaceTrack(self._feed(transceiver, track))
                transceiver.direction = "sendonly"
                self._placed[sid] = (track, mid)
            try:
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:  # an offer aiortc accepted but cannot answer
                logger.info("%s: cannot answer: %s", self._name, type(exc).__name__)
                return
            answer = sdp_edit.set_stream_ids(pc.localDescription.sdp, self._stream_ids())
            self._send(rtc.SignalResponse(answer=self._description("answer", answer, offer_id)))
            self._trickle(self.publisher, answer, rtc.PUBLISHER)
            if self.subscriber is None and self._unplaced():
                self._request_sections()

    def _trickle(self, peer: RoomPeer, sdp: str, target: int) -> None:
        """Trickle the server's candidates too (they are also in its SDP: aiortc gathers
        before it describes), once per connection, as LiveKit's server trickles its own."""
        if peer in self._trickled:
            return
        self._trickled.add(peer)
        mid = sdp_edit.bundle_mid(sdp) or "0"
        for candidate in sdp_edit.candidates(sdp):
            init = json.dumps({"candidate": candidate, "sdpMid": mid, "sdpMLineIndex": 0})
            request = rtc.TrickleRequest(candidateInit=init, target=target)  # type: ignore[arg-type]
            self._send(rtc.SignalResponse(trickle=request))

    def _request_sections(self) -> None:
        """(v1) Ask the client to offer again, with more receive-only sections if needed."""
        used = {mid for _, mid in self._placed.values()}
        need = {"audio": 0, "video": 0}
        for track in self._unplaced():
            need[track.kind] += 1
        for section in self._offered:
            if section.kind in need and section.direction == "recvonly" and section.mid not in used:
                need[section.kind] = max(0, need[section.kind] - 1)
        requirement = rtc.MediaSectionsRequirement(
            num_audios=need["audio"], num_videos=need["video"]
        )
        self._send(rtc.SignalResponse(media_sections_requirement=requirement))

    def _description(self, kind: str, sdp: str, offer_id: int) -> rtc.SessionDescription:
        return rtc.SessionDescription(
            type=kind, sdp=sdp, id=offer_id, mid_to_track_id=self._mid_map()
        )


def _codecs(track: PublishedTrack) -> list[Any]:
    """The codec preferences of a sender of ``track``: Opus, or its video codec (+ RTX)."""
    codecs = RTCRtpSender.getCapabilities(track.kind).codecs
    if track.kind == "audio":
        return [c for c in codecs if c.mimeType.lower() == "audio/opus"]
    chosen = [c for c in codecs if c.mimeType.lower() == f"video/{track.codec}"]
    return chosen + [c for c in codecs if c.mimeType.lower() == "video/rtx"]
