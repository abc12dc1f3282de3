"""A LiveKit-compatible room server inside the emulator (generic: no LiveAvatar in here).

The official LiveKit clients (``livekit`` on PyPI, ``livekit-client`` on npm) join its rooms
unmodified, on both signalling paths, and receive what server-side participants publish::

    from heygen_streaming.emulator.livekit import RoomServer, RoomObserver

    server = RoomServer()                   # random API key and secret
    server.add_routes(app)                  # /rtc, /rtc/v1, /rtc/validate, /rtc/v1/validate
    room = server.create_room("demo", observer=MyObserver())
    avatar = room.add_participant("avatar")
    avatar.publish(video_track, kind="video")            # H.264 (codec="vp8" too)
    avatar.publish(audio_track, kind="audio")            # Opus 48 kHz
    token = server.token(room="demo", identity="user")   # hand out with livekit_url(request)
    await avatar.send_data(b"hi", topic="chat")
    await room.close("ROOM_DELETED")                     # the client sees disconnected(reason)

What is served, and what is not (LiveKit's server does all of it):

=================================================  =============================================
implemented                                        notes
=================================================  =============================================
``/rtc`` (two connections), ``/rtc/v1`` (one)      join response, offers/answers, trickle both
                                                   ways, ping/pong, ``leave`` with a reason
tokens (JWT, HS256) minted and verified            LiveKit's HTTP statuses (`server`, `tokens`)
server participants publishing audio/video         H.264 (default) or VP8, Opus; late publishing
                                                   (participant update, then renegotiation)
clients publishing tracks                          handed to the observer, not to other clients
user data packets both ways                        numbered per sender; 64 KiB cap; forwarded to
                                                   the other clients (destinations honoured)
participant updates, duplicate identity            join/leave of clients and server participants
faults                                             ``drop_media``, ``refuse_joins``, ``close``
=================================================  =============================================

Not implemented (not needed by the clients to join, subscribe, publish and exchange data):
active speakers, connection quality, token refresh, subscription permissions and manual
subscription (``auto_subscribe=0`` gets no tracks at all), mute and metadata updates from
clients, simulcast/adaptive stream/dynacast, resume (clients are told to rejoin instead),
chat/RPC/stream/transcription packets (ignored), data tracks, TURN.
"""

from __future__ import annotations

from .data import DataMessage
from .participant import PublishedTrack, ServerParticipant
from .room import Room, RoomObserver
from .server import RoomServer
from .tokens import JoinRefused

__all__ = [
    "DataMessage",
    "JoinRefused",
    "PublishedTrack",
    "Room",
    "RoomObserver",
    "RoomServer",
    "ServerParticipant",
]
