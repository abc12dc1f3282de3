"""A room: its server participants, its connected clients, and what flows between them.

Clients are told about every participant (join response, then participant updates) before
any of its tracks reaches them. Server participants' tracks go to every client that may
subscribe; clients' tracks go to the room's observer only (they are not forwarded to other
clients). Data packets go to every other client (or the named destinations) and, from a
client, to the observer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from aiortc import MediaStreamTrack
from livekit.protocol import models

from .data import DataMessage
from .ids import new_id
from .participant import PublishedTrack, ServerParticipant
from .wire import disconnect_reason

if TYPE_CHECKING:
    from .session import ClientSession

__all__ = ["Room", "RoomObserver"]

logger = logging.getLogger("heygen_streaming.emulator.livekit")


class RoomObserver(Protocol):
    """What a room reports, on the event loop. Subclass it and override what you need (the
    defaults do nothing); any object works too (a missing method is skipped). An observer
    that raises is logged, never fatal to the room."""

    def participant_joined(self, room: Room, identity: str) -> None:
        """A client joined (its join response is on its way)."""
        return None

    def participant_left(self, room: Room, identity: str, reason: str) -> None:
        """A client left; ``reason`` is a ``DisconnectReason`` name: CLIENT_INITIATED (it
        sent ``leave``), SIGNAL_CLOSE (its signalling connection closed or sent garbage),
        CONNECTION_TIMEOUT (silent for 15 s), or the reason the server gave."""
        return None

    def data_received(self, room: Room, message: DataMessage) -> None:
        """A client sent a user data packet (also forwarded to the other clients)."""
        return None

    def track_received(
        self,
        room: Room,
        identity: str,
        kind: Literal["audio", "video"],
        track: MediaStreamTrack,
    ) -> None:
        """A client published a track (e.g. its microphone): ``await track.recv()`` gives
        its decoded ``av`` frames (the newest 50 are kept when nobody reads)."""
        return None


class Room:
    """A LiveKit room served by a `RoomServer` (made by ``server.create_room``)."""

    def __init__(
        self,
        name: str,
        observer: RoomObserver | None = None,
        on_closed: Callable[[Room], None] | None = None,
    ) -> None:
        self.name = name
        self.sid = new_id("RM_")
        self.created_at = time.time()
        self.observer = observer
        self.closed = False
        self.participants: dict[str, ServerParticipant] = {}
        self.sessions: dict[str, ClientSession] = {}
        self._on_closed = on_closed

    def __repr__(self) -> str:
        return f"Room({self.name!r}, sid={self.sid!r}, clients={self.clients})"

    @property
    def clients(self) -> list[str]:
        """Identities of the connected clients."""
        return list(self.sessions)

    def info(self) -> models.Room:
        """The room's ``Room`` message."""
        return models.Room(
            sid=self.sid,
            name=self.name,
            creation_time=int(self.created_at),
            creation_time_ms=int(self.created_at * 1000),
            num_participants=len(self.sessions) + len(self.participants),
            num_publishers=sum(1 for p in self.participants.values() if p.tracks),
            empty_timeout=300,
            departure_timeout=20,
        )

    # -- the public side ----------------------------------------------------------------------
    def add_participant(
        self, identity: str, *, name: str = "", metadata: str = ""
    ) -> ServerParticipant:
        """A server-side participant (announced to the clients at once)."""
        if self.closed:
            raise RuntimeError(f"room {self.name!r} is closed")
        if not identity or identity in self.participants or identity in self.sessions:
            raise ValueError(f"identity {identity!r} is empty or already in the room")
        participant = ServerParticipant(self, identity, name=name, metadata=metadata)
        self.participants[identity] = participant
        self._broadcast([participant.info()])
        return participant

    def drop_media(self, seconds: float) -> None:
        """Stop forwarding the server participants' media for ``seconds`` (a fault: the
        peer connections stay up, RTP stops)."""
        for participant in self.participants.values():
            for track in participant.tracks:
                track.fanout.pause(seconds)

    async def close(self, reason: str = "ROOM_DELETED") -> None:
        """Send every client ``leave{reason}`` (a ``DisconnectReason`` name), close their
        peers, stop the server participants' tracks; the room is gone from the server."""
        disconnect_reason(reason)  # ValueError on an unknown reason, before anything
        if self.closed:
            return
        self.closed = True
        for session in list(self.sessions.values()):
            await session.kick(reason)
        for participant in list(self.participants.values()):
            participant.removed = True
            for track in participant.tracks:
                track.fanout.close()
        self.participants.clear()
        if self._on_closed is not None:
            self._on_closed(self)

    # -- called by participants and sessions ------------------------------------------------
    def participant_infos(self, exclude: str | None = None) -> list[models.ParticipantInfo]:
        """Everyone but ``exclude`` (an identity), server participants first."""
        infos = [p.info() for p in self.participants.values()]
        infos += [s.info() for s in self.sessions.values() if s.identity != exclude]
        return infos

    def server_tracks(self) -> list[PublishedTrack]:
        """Every track the server participants publish, in publishing order."""
        return [t for p in self.participants.values() for t in p.tracks if not p.removed]

    def _broadcast(self, infos: list[models.ParticipantInfo], exclude: str | None = None) -> None:
        for session in list(self.sessions.values()):
            if session.identity != exclude:
                session.send_update(infos)

    def _track_published(self, participant: ServerParticipant, track: PublishedTrack) -> None:
        self._broadcast([participant.info()])  # announced first, then negotiated
        for session in list(self.sessions.values()):
            session.track_added(track)

    def _participant_removed(self, participant: ServerParticipant) -> None:
        self.participants.pop(participant.identity, None)
        info = participant.info(
            state=models.ParticipantInfo.DISCONNECTED,
            reason=models.DisconnectReason.CLIENT_INITIATED,
        )
        self._broadcast([info])

    def _deliver(
        self,
        packet: bytes,
        reliable: bool,
        destinations: Sequence[str],
        exclude: str | None,
    ) -> None:
        for session in list(self.sessions.values()):
            if session.identity == exclude or (
                destinations and session.identity not in destinations
            ):
                continue
            session.send_data(packet, reliable)

    def _attach(self, session: ClientSession) -> None:
        previous = self.sessions.get(session.identity)
        if previous is not None and previous is not session:  # joined twice at once
            self._detach(previous, "DUPLICATE_IDENTITY")
            previous.replaced()
        self.sessions[session.identity] = session
        self._broadcast([session.info()], exclude=session.identity)
        self._notify("participant_joined", session.identity)

    def _detach(self, session: ClientSession, reason: str) -> None:
        if self.sessions.get(session.identity) is not session:
            return
        del self.sessions[session.identity]
        info = session.info(
            state=models.ParticipantInfo.DISCONNECTED, reason=disconnect_reason(reason)
        )
        self._broadcast([info])
        self._notify("participant_left", session.identity, reason)

    def _client_data(
        self, session: ClientSession, packet: models.DataPacket, message: DataMessage
    ) -> None:
        # The sender is the connection's participant, whatever the packet claims.
        packet.participant_identity = session.identity
        packet.participant_sid = session.sid
        if packet.WhichOneof("value") == "user":
            packet.user.participant_identity = session.identity
            packet.user.participant_sid = session.sid
        self._deliver(
            packet.SerializeToString(),
            message.reliable,
            message.destination_identities,
            session.identity,
        )
        self._notify("data_received", message)

    def _client_track(
        self, session: ClientSession, kind: Literal["audio", "video"], track: MediaStreamTrack
    ) -> None:
        self._notify("track_received", session.identity, kind, track)

    def _notify(self, event: str, *args: object) -> None:
        method = getattr(self.observer, event, None)
        if not callable(method):
            return
        try:
            method(self, *args)
        except Exception:
            logger.exception("room observer %s failed", event)
