"""Server-side participants (e.g. an avatar) and the tracks they publish."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiortc import MediaStreamTrack
from livekit.protocol import models

from .data import Sequencer, encode_user_packet
from .ids import new_id
from .media import TrackFanout

if TYPE_CHECKING:
    from .room import Room

__all__ = ["Codec", "Kind", "Member", "PublishedTrack", "ServerParticipant"]

Kind = Literal["audio", "video"]
Codec = Literal["h264", "vp8"]
_SOURCES = {
    "camera": models.TrackSource.CAMERA,
    "microphone": models.TrackSource.MICROPHONE,
    "screen_share": models.TrackSource.SCREEN_SHARE,
    "screen_share_audio": models.TrackSource.SCREEN_SHARE_AUDIO,
}
_MIME = {"h264": "video/H264", "vp8": "video/VP8"}


@dataclass(frozen=True)
class PublishedTrack:
    """A track a server participant publishes, as every client is told about it."""

    sid: str
    kind: Kind
    name: str
    source: str
    codec: Codec
    owner_sid: str
    fanout: TrackFanout
    width: int = 0
    height: int = 0

    @property
    def stream_id(self) -> str:
        """The media stream id clients map the track by: ``"PA_xxx|TR_yyy"``."""
        return f"{self.owner_sid}|{self.sid}"

    def info(self) -> models.TrackInfo:
        """The track's ``TrackInfo``."""
        return models.TrackInfo(
            sid=self.sid,
            type=models.TrackType.VIDEO if self.kind == "video" else models.TrackType.AUDIO,
            name=self.name,
            source=_SOURCES[self.source],
            mime_type=_MIME[self.codec] if self.kind == "video" else "audio/opus",
            width=self.width,
            height=self.height,
        )


class Member:
    """A participant as the room announces it (`info`): a server participant or a client."""

    def __init__(self, identity: str, *, name: str = "", metadata: str = "") -> None:
        self.identity = identity
        self.name = name
        self.metadata = metadata
        self.sid = new_id("PA_")
        self.joined_at = time.time()
        self.attributes: dict[str, str] = {}
        self.permission = models.ParticipantPermission(
            can_subscribe=True, can_publish=True, can_publish_data=True
        )
        self._version = 0

    def tracks_info(self) -> list[models.TrackInfo]:
        """The tracks it publishes, as announced."""
        return []

    def info(
        self, *, state: int = models.ParticipantInfo.ACTIVE, reason: int = 0
    ) -> models.ParticipantInfo:
        """The ``ParticipantInfo`` (a new ``version`` each call: clients drop older ones)."""
        self._version += 1
        tracks = self.tracks_info()
        return models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            name=self.name,
            metadata=self.metadata,
            attributes=self.attributes,
            state=state,  # type: ignore[arg-type]
            tracks=tracks,
            joined_at=int(self.joined_at),
            joined_at_ms=int(self.joined_at * 1000),
            version=self._version,
            is_publisher=bool(tracks),
            permission=self.permission,
            disconnect_reason=reason,  # type: ignore[arg-type]
        )


class ServerParticipant(Member):
    """A participant the server itself runs in a room: it publishes tracks and sends data
    to the room's clients. Made by `Room.add_participant`."""

    def __init__(self, room: Room, identity: str, *, name: str = "", metadata: str = "") -> None:
        super().__init__(identity, name=name, metadata=metadata)
        self.room = room
        self.tracks: list[PublishedTrack] = []
        self.removed = False
        self._sequencer = Sequencer()

    def __repr__(self) -> str:
        return f"ServerParticipant({self.identity!r}, sid={self.sid!r}, tracks={len(self.tracks)})"

    def tracks_info(self) -> list[models.TrackInfo]:
        return [track.info() for track in self.tracks]

    def publish(
        self,
        track: MediaStreamTrack,
        *,
        kind: Kind,
        name: str = "",
        source: str | None = None,
        codec: Codec = "h264",
        width: int = 0,
        height: int = 0,
    ) -> PublishedTrack:
        """Publish ``track`` to every subscribed client, present and future.

        ``codec`` is the video codec (H.264 by default, or VP8). The track yields raw frames
        (aiortc encodes them, for each client) or ``av.Packet`` objects already encoded in
        ``codec`` (forwarded as they are: one encoding for every client); a source with a
        ``request_keyframe()`` gets it called when a client starts receiving, on a PLI and
        after `Room.drop_media`. Audio is Opus at 48 kHz (raw frames or Opus packets).
        ``source``: camera/microphone (default by kind), screen_share, screen_share_audio.
        The room announces the track (participant update) before any client receives it.
        """
        if self.removed:
            raise RuntimeError(f"participant {self.identity!r} was removed")
        if kind not in ("audio", "video") or kind != track.kind:
            raise ValueError(f"kind {kind!r} does not match the track's kind {track.kind!r}")
        if codec not in _MIME:
            raise ValueError(f"codec must be 'h264' or 'vp8', not {codec!r}")
        source = source or ("camera" if kind == "video" else "microphone")
        if source not in _SOURCES:
            raise ValueError(f"unknown track source {source!r}")
        published = PublishedTrack(
            sid=new_id("TR_"),
            kind=kind,
            name=name or kind,
            source=source,
            codec=codec,
            owner_sid=self.sid,
            fanout=TrackFanout(track),
            width=width,
            height=height,
        )
        self.tracks.append(published)
        self.room._track_published(self, published)
        return published

    async def send_data(
        self,
        payload: bytes,
        *,
        topic: str | None = None,
        reliable: bool = True,
        destination_identities: Sequence[str] = (),
    ) -> None:
        """Send a user data packet to the room's clients (or only to
        ``destination_identities``); reliable packets are numbered per participant.
        ValueError when the packet exceeds 64 KiB."""
        if self.removed:
            raise RuntimeError(f"participant {self.identity!r} was removed")
        packet = encode_user_packet(
            bytes(payload),
            sender_identity=self.identity,
            sender_sid=self.sid,
            topic=topic,
            reliable=reliable,
            sequence=self._sequencer.next() if reliable else 0,
            destination_identities=destination_identities,
        )
        self.room._deliver(packet, reliable, destination_identities, exclude=None)

    async def remove(self) -> None:
        """Leave the room: clients get a participant update (DISCONNECTED) and its tracks
        stop (the source tracks themselves are left to their owner)."""
        if self.removed:
            return
        self.removed = True
        for track in self.tracks:
            track.fanout.close()
        self.room._participant_removed(self)
