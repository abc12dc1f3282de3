"""A LiveKit-compatible room server inside the emulator (generic: no LiveAvatar in here).

The official LiveKit clients (``livekit`` on PyPI, ``livekit-client`` on npm) join its rooms
unmodified, on both signalling paths, and receive what server-side participants publish::

    from heygen_streaming.emulator.livekit import RoomServer, RoomObserver

    server = RoomServer()                   # random API key and secret
    server.add_routes(app)                  # /rtc, /rtc/v1, /rtc/validate, /rtc/v1/validate
    room = server.create_room("demo", observer=MyObserver())  # MyObserver(RoomObserver)
    avatar = room.add_participant("avatar")
    avatar.publish(video_track, kind="video")            # H.264 (codec="vp8" too)
    avatar.publish(audio_track, kind="audio")            # Opus 48 kHz
    token = server.token(room="demo", identity="user")   # with server.livekit_url(request)
    await avatar.send_data(b"hi", topic="chat")
    await room.close("ROOM_DELETED")                     # the client: disconnected(reason)

What is served (LiveKit's server does more; nothing below is needed by the clients to join,
subscribe, publish and exchange data):

=========================================  ================================================
served                                     notes
=========================================  ================================================
``/rtc`` (two peer connections)            server offers the subscriber side (renegotiates
                                           for late tracks), answers the publisher side
``/rtc/v1`` (one peer connection)          answers the client's offers, tracks on its
                                           receive-only sections, ``mid_to_track_id``,
                                           ``media_sections_requirement`` for late tracks
join tokens (JWT, HS256)                   minted and verified, LiveKit's statuses (`tokens`)
trickle both ways, ping/pong, ``leave``    candidates queued until the description is set
server participants' audio and video       H.264 (default) or VP8, Opus; fanned out
clients' tracks                            to the observer (not forwarded to other clients)
user data packets, both ways               numbered per sender, 64 KiB cap, forwarded to the
                                           other clients (``destination_identities``)
participant updates                        joins, leaves, duplicate identity (old one leaves)
faults                                     ``drop_media``, ``refuse_joins``, ``close``
=========================================  ================================================

Not implemented: active speakers, connection quality, token refresh, subscription
permissions and manual subscription (a client joining with ``auto_subscribe=0`` gets no
tracks), mute and metadata/attribute updates from clients (ignored), simulcast, adaptive
stream, dynacast, resume (the join response disables it; a resume attempt gets ``leave``
RECONNECT, so the client joins again), chat/RPC/stream/transcription packets (ignored),
data tracks, TURN, region URLs, ``room_config`` and agent dispatch from tokens.

Hostile input and its answer (``tests/rooms/test_hostile.py``, one case each, another
room measured meanwhile):

=========================================  ================================================
input                                      answer
=========================================  ================================================
bad, expired, foreign or other-room token  HTTP 401/404 before the upgrade (`tokens`,
                                           `server` tables)
``/rtc/v1`` join request garbage or bomb   HTTP 400 (over 1 MiB unpacked: too large)
frame that is not a ``SignalRequest``      connection closed, code 1003; the client leaves
                                           (SIGNAL_CLOSE), as LiveKit's server does
frame over 2 MiB (e.g. 100 MB announced)   closed at the frame header, code 1009
unknown or unserved messages               ignored
trickle flood, garbage candidates          64 candidates kept per connection, rest ignored
SDP that is not SDP, over 64 m-sections,   ignored (no answer); candidates over 64 and
or refused by aiortc                       ``a=ssrc`` lines over 64 are cut
data packet over 64 KiB or undecodable     dropped (aiortc's SCTP takes up to 256 KiB)
spoofed sender in a data packet            rewritten to the connection's identity
silent client (no ping for 15 s)           closed (CONNECTION_TIMEOUT)
more than 64 clients a room or 256 in all  HTTP 503 node has exceeded its configured limit
client that does not read (1024 queued)    closed, code 1008
=========================================  ================================================
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
