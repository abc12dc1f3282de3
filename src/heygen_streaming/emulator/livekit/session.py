"""One client in a room: its signalling WebSocket and its peer connection(s).

Two signalling paths, as LiveKit's server (``pkg/service/rtcservice.go``):

* ``/rtc`` (v0): two peer connections. The server offers on the *subscriber* connection
  (its ``_reliable``/``_lossy`` channels and the server participants' tracks) and renegotiates
  with a new offer when a track is published later; the client offers on its *publisher*
  connection (its data channels, its microphone) and the server answers.
* ``/rtc/v1`` (single peer connection): the client offers (its first offer inside the join
  request, with three receive-only audio and three video sections), the server answers,
  putting its tracks on receive-only sections and naming them in ``mid_to_track_id``. For a
  track published later, or when sections run short, it sends ``media_sections_requirement``
  and the client offers again.

Messages are handled one at a time in arrival order. Everything the server sends goes
through one bounded outbox (a client that stops reading is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web
from livekit.protocol import models, rtc

from .data import decode_packet, user_message
from .ids import new_id
from .media import BufferedTrack
from .negotiation import Negotiator
from .participant import Member, PublishedTrack
from .peer import RoomPeer
from .tokens import MAX_NAME_LENGTH, Grant
from .wire import (
    PING_INTERVAL,
    PING_TIMEOUT,
    SERVER_PROTOCOL,
    SERVER_VERSION,
    ConnectOptions,
    decode_request,
    encode_response,
    leave,
)

if TYPE_CHECKING:
    from .room import Room

__all__ = ["ClientSession"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")

MAX_OUTBOX = 1024
MAX_CLIENT_TRACKS = 16
KICK_TIMEOUT = 5.0


class ClientSession(Member):
    """A connected client (made by the `RoomServer` once its join is admitted)."""

    def __init__(
        self,
        room: Room,
        grant: Grant,
        options: ConnectOptions,
        ws: web.WebSocketResponse,
        *,
        ping_timeout: int = PING_TIMEOUT,
    ) -> None:
        super().__init__(grant.identity, name=grant.name, metadata=grant.metadata)
        self.attributes = grant.attributes
        self.permission = models.ParticipantPermission(
            can_subscribe=grant.can_subscribe,
            can_publish=grant.can_publish,
            can_publish_data=grant.can_publish_data,
        )
        self.room = room
        self.grant = grant
        self.options = options
        self.ws = ws
        self.reason: str | None = None
        self.bad_messages = 0
        self.bad_packets = 0
        self.as_json = False
        self._ping_timeout = ping_timeout
        self._outbox: asyncio.Queue[rtc.SignalResponse | None] = asyncio.Queue(MAX_OUTBOX)
        self._closing = False
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.publisher = RoomPeer(self._on_data)
        self.subscriber = None if options.single_pc else RoomPeer(self._on_data)
        self.publisher.pc.on("track", self._on_track)
        self.negotiator = Negotiator(
            self.publisher, self.subscriber, tracks=self._tracks, send=self._send, name=repr(self)
        )
        self._client_tracks: dict[str, models.TrackInfo] = {}  # cid -> info

    def __repr__(self) -> str:
        path = "v1" if self.options.single_pc else "v0"
        return f"ClientSession({self.identity!r}, sid={self.sid!r}, path={path})"

    @property
    def subscribes(self) -> bool:
        """Whether the server sends this client the server participants' tracks."""
        return self.grant.can_subscribe and self.options.auto_subscribe

    # -- lifecycle --------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the client until it leaves, its connection drops, or it is kicked."""
        writer = asyncio.get_running_loop().create_task(self._write())
        try:
            self._send(self._join_response())
            self.room._attach(self)
            await self.negotiator.start(self.options.publisher_offer)
            await self._read()
        except Exception:
            logger.exception("client session %s failed", self.sid)
            self.reason = self.reason or "STATE_MISMATCH"
        finally:
            await self._finish(writer)

    async def kick(self, reason: str) -> None:
        """Send ``leave{reason}``, then close the connection (waits up to 5 s)."""
        if not self._closing:
            self.reason = self.reason or reason
            self._closing = True
            self._send(leave(reason))
            self._send(None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), KICK_TIMEOUT)

    def replaced(self) -> None:
        """Another connection took this identity: ``leave`` DUPLICATE_IDENTITY, close."""
        self._spawn(self.kick("DUPLICATE_IDENTITY"))

    def _join_response(self) -> rtc.SignalResponse:
        return rtc.SignalResponse(
            join=rtc.JoinResponse(
                room=self.room.info(),
                participant=self.info(),
                other_participants=self.room.participant_infos(exclude=self.identity),
                server_version=SERVER_VERSION,
                server_info=models.ServerInfo(
                    edition=models.ServerInfo.Standard,
                    version=SERVER_VERSION,
                    protocol=SERVER_PROTOCOL,
                    node_id="ND_emulator",
                    region="local",
                ),
                subscriber_primary=not self.options.single_pc,
                ping_interval=min(PING_INTERVAL, max(1, self._ping_timeout // 3)),
                ping_timeout=self._ping_timeout,
                # No resume (ICE restart on a kept session): a client that loses its
                # connection joins again instead.
                client_configuration=models.ClientConfiguration(
                    resume_connection=models.ClientConfigSetting.DISABLED
                ),
            )
        )

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if not writer.done():
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, KICK_TIMEOUT)
        writer.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.negotiator.close()
        await self.publisher.close()
        if self.subscriber is not None:
            await self.subscriber.close()
        self.room._detach(self, self.reason or "SIGNAL_CLOSE")
        self._done.set()

    # -- signalling ---------------------------------------------------------------------------
    def _send(self, response: rtc.SignalResponse | None) -> None:
        try:
            self._outbox.put_nowait(response)
        except asyncio.QueueFull:  # the client does not read its messages: drop it
            logger.info("client %s: outbox full, closing", self.sid)
            self.reason = self.reason or "SIGNAL_CLOSE"
            self._spawn(self.ws.close(code=WSCloseCode.POLICY_VIOLATION))

    async def _write(self) -> None:
        while True:
            response = await self._outbox.get()
            if response is None:
                break
            data = encode_response(response, as_json=self.as_json)
            try:
                if isinstance(data, str):
                    await self.ws.send_str(data)
                else:
                    await self.ws.send_bytes(data)
            except Exception:  # the connection is gone
                break
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def _read(self) -> None:
        while not self.ws.closed:
            try:
                message = await asyncio.wait_for(self.ws.receive(), self._ping_timeout)
            except TimeoutError:
                self.reason = self.reason or "CONNECTION_TIMEOUT"
                return
            if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                return  # CLOSE, CLOSING, CLOSED or ERROR (e.g. a frame over the size cap)
            try:
                request = decode_request(message.data)
            except ValueError:  # as LiveKit's server: an undecodable message ends it
                self.bad_messages += 1
                self.reason = self.reason or "SIGNAL_CLOSE"
                await self.ws.close(code=WSCloseCode.UNSUPPORTED_DATA)
                return
            self.as_json = message.type == WSMsgType.TEXT
            if not await self._handle(request):
                return

    async def _handle(self, request: rtc.SignalRequest) -> bool:
        """Handle one message; False when the client leaves."""
        kind = request.WhichOneof("message")
        if kind == "ping_req":
            pong = rtc.Pong(last_ping_timestamp=request.ping_req.timestamp, timestamp=_now_ms())
            self._send(rtc.SignalResponse(pong_resp=pong))
        elif kind == "ping":
            self._send(rtc.SignalResponse(pong=_now_ms()))
        elif kind == "offer":
            await self.negotiator.answer(request.offer.sdp, request.offer.id)
        elif kind == "answer":
            await self.negotiator.answered(request.answer.sdp)
        elif kind == "trickle":
            self._trickle(request.trickle)
        elif kind == "add_track":
            self._add_track(request.add_track)
        elif kind == "leave":
            self.reason = self.reason or "CLIENT_INITIATED"
            return False
        else:  # mute, subscription, settings, metadata, sync_state, simulate, ...: not served
            logger.debug("client %s: ignored %s", self.sid, kind)
        return True

    def send_update(self, infos: list[models.ParticipantInfo]) -> None:
        """Tell the client about participants (joined, changed, left)."""
        if not self._closing:
            update = rtc.ParticipantUpdate(participants=infos)
            self._send(rtc.SignalResponse(update=update))

    def send_data(self, packet: bytes, reliable: bool) -> None:
        """Send a serialized data packet on the server's channel."""
        if not self._closing:
            (self.subscriber or self.publisher).send(packet, reliable)

    def track_added(self, track: PublishedTrack) -> None:
        """A server participant published ``track`` (already announced): send it."""
        if not self._closing and self.subscribes:
            self._spawn(self.negotiator.track_added())

    def _tracks(self) -> list[PublishedTrack]:
        return self.room.server_tracks() if self.subscribes else []

    def _trickle(self, trickle: rtc.TrickleRequest) -> None:
        peer = self.publisher
        if self.subscriber is not None and trickle.target == rtc.SUBSCRIBER:
            peer = self.subscriber
        try:
            peer.add_candidate(trickle.candidateInit)
        except ValueError:
            self.bad_messages += 1

    def _add_track(self, request: rtc.AddTrackRequest) -> None:
        """The client will publish a track: give it a sid (``track_published``)."""
        if not self.grant.can_publish or len(self._client_tracks) >= MAX_CLIENT_TRACKS:
            logger.info("client %s: track not allowed", self.sid)
            return
        info = models.TrackInfo(
            sid=new_id("TR_"),
            type=request.type,
            name=request.name[:MAX_NAME_LENGTH],
            source=request.source,
            muted=request.muted,
            width=request.width,
            height=request.height,
        )
        cid = request.cid[:MAX_NAME_LENGTH]
        self._client_tracks[cid] = info
        published = rtc.TrackPublishedResponse(cid=cid, track=info)
        self._send(rtc.SignalResponse(track_published=published))

    # -- what the client sends on its peer connections ----------------------------------------
    def _on_track(self, track: Any) -> None:
        if track.kind in ("audio", "video") and not self._closing:
            self.room._client_track(self, track.kind, BufferedTrack(track))

    def _on_data(self, raw: bytes, reliable: bool) -> None:
        if not self.grant.can_publish_data or self._closing:
            return
        try:
            packet = decode_packet(raw)
        except ValueError:
            self.bad_packets += 1
            return
        message = user_message(packet, sender=self.identity, reliable=reliable)
        if message is not None:
            self.room._client_data(self, packet, message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _now_ms() -> int:
    return int(time.time() * 1000)
