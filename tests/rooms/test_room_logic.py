"""Rooms, participants, the track fanout and join admission, without sockets (clients are
stand-ins recording what the room hands them)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from aiortc.mediastreams import MediaStreamError
from livekit.protocol import models

from heygen_streaming.emulator.livekit import DataMessage, JoinRefused, Room, RoomServer
from heygen_streaming.emulator.livekit.data import decode_packet, encode_user_packet
from heygen_streaming.emulator.livekit.ids import new_id
from heygen_streaming.emulator.livekit.media import BufferedTrack, TrackFanout

from ._server import Source

pytestmark = pytest.mark.timeout(10)


class FakeSession:
    """What a room needs of a connected client; records everything in ``log``."""

    def __init__(self, room: Room, identity: str, log: list[Any]) -> None:
        self.room = room
        self.identity = identity
        self.sid = new_id("PA_")
        self.log = log
        self.packets: list[tuple[models.DataPacket, bool]] = []

    def info(self, *, state: int = models.ParticipantInfo.ACTIVE, reason: int = 0) -> Any:
        return models.ParticipantInfo(sid=self.sid, identity=self.identity, state=state)  # type: ignore[arg-type]

    def send_update(self, infos: list[models.ParticipantInfo]) -> None:
        self.log.append(
            (self.identity, "update", [(i.identity, i.state, len(i.tracks)) for i in infos])
        )

    def send_data(self, packet: bytes, reliable: bool) -> None:
        self.packets.append((decode_packet(packet), reliable))

    def track_added(self, track: Any) -> None:
        self.log.append((self.identity, "track", track.kind))

    def replaced(self) -> None:
        self.log.append((self.identity, "replaced", self.sid))

    async def kick(self, reason: str) -> None:
        self.log.append((self.identity, "kick", reason))
        self.room._detach(self, reason)  # type: ignore[arg-type]


def _room_with(
    *identities: str, observer: Any = None
) -> tuple[Room, list[Any], dict[str, FakeSession]]:
    room = Room("r", observer)
    log: list[Any] = []
    sessions = {}
    for identity in identities:
        sessions[identity] = FakeSession(room, identity, log)
        room._attach(sessions[identity])  # type: ignore[arg-type]
    log.clear()
    return room, log, sessions


async def test_participants_are_announced_before_their_tracks() -> None:
    room, log, _ = _room_with("user")
    avatar = room.add_participant("avatar")
    track = avatar.publish(Source(), kind="video", width=640, height=360)
    assert log == [
        ("user", "update", [("avatar", models.ParticipantInfo.ACTIVE, 0)]),
        ("user", "update", [("avatar", models.ParticipantInfo.ACTIVE, 1)]),
        ("user", "track", "video"),
    ]
    info = track.info()
    assert (info.sid, info.mime_type, info.source) == (
        track.sid,
        "video/H264",
        models.TrackSource.CAMERA,
    )
    assert (info.width, info.height, track.stream_id) == (640, 360, f"{avatar.sid}|{track.sid}")
    assert [p.identity for p in room.participant_infos(exclude="user")] == ["avatar"]
    versions = [avatar.info().version for _ in range(3)]
    assert versions == sorted(set(versions))  # each update newer than the last


async def test_publish_and_identities_are_validated() -> None:
    room, _, _ = _room_with("user")
    avatar = room.add_participant("avatar")
    with pytest.raises(ValueError, match="kind"):
        avatar.publish(Source(), kind="audio")
    with pytest.raises(ValueError, match="codec"):
        avatar.publish(Source(), kind="video", codec="av1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        avatar.publish(Source(), kind="video", source="webcam")
    for taken in ("avatar", "user", ""):
        with pytest.raises(ValueError):
            room.add_participant(taken)


async def test_server_packets_are_numbered_per_sender_and_routed() -> None:
    room, _, sessions = _room_with("user", "other")
    avatar, agent = room.add_participant("avatar"), room.add_participant("agent")
    for i in range(3):
        await avatar.send_data(b"%d" % i, topic="t")
    await avatar.send_data(b"lossy", reliable=False)
    await agent.send_data(b"only you", destination_identities=["other"])
    got = [
        (p.participant_identity, p.sequence, p.user.payload, r) for p, r in sessions["user"].packets
    ]
    assert got == [
        ("avatar", 1, b"0", True),
        ("avatar", 2, b"1", True),
        ("avatar", 3, b"2", True),
        ("avatar", 0, b"lossy", False),
    ]
    (packet, _) = sessions["other"].packets[-1]
    assert (packet.participant_identity, packet.sequence, packet.participant_sid) == (
        "agent",
        1,
        agent.sid,
    )
    with pytest.raises(ValueError):
        await avatar.send_data(b"x" * 70_000)


async def test_client_packets_are_restamped_forwarded_and_observed() -> None:
    seen: list[DataMessage] = []

    class Observer:
        def data_received(self, room: Room, message: DataMessage) -> None:
            seen.append(message)

    room, _, sessions = _room_with("user", "other", observer=Observer())
    spoofed = decode_packet(
        encode_user_packet(b"hi", sender_identity="avatar", sender_sid="PA_fake", topic="t")
    )
    message = DataMessage("user", "t", b"hi", True)
    room._client_data(sessions["user"], spoofed, message)  # type: ignore[arg-type]
    assert sessions["user"].packets == []  # not echoed to the sender
    (packet, reliable) = sessions["other"].packets[0]
    assert (packet.participant_identity, packet.participant_sid) == ("user", sessions["user"].sid)
    assert (packet.user.participant_identity, reliable) == ("user", True)
    assert seen == [message]


async def test_observer_failures_are_logged_and_partial_observers_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def participant_joined(self, room: Room, identity: str) -> None:
            raise RuntimeError("observer bug")

    with caplog.at_level(logging.ERROR, "heygen_streaming.emulator.livekit"):
        room, _, _ = _room_with("user", observer=Broken())
    assert room.clients == ["user"]
    assert "room observer participant_joined failed" in caplog.text
    room._detach(room.sessions["user"], "CLIENT_INITIATED")  # no participant_left: skipped
    assert room.clients == []


async def test_an_identity_joining_twice_at_once_replaces_the_first() -> None:
    left: list[tuple[str, str]] = []

    class Observer:
        def participant_left(self, room: Room, identity: str, reason: str) -> None:
            left.append((identity, reason))

    room, log, sessions = _room_with("twin", "other", observer=Observer())
    first = sessions["twin"]
    second = FakeSession(room, "twin", log)
    room._attach(second)  # type: ignore[arg-type]
    assert room.sessions["twin"] is second
    assert ("twin", "replaced", first.sid) in log and left == [("twin", "DUPLICATE_IDENTITY")]
    room._detach(first, "SIGNAL_CLOSE")  # type: ignore[arg-type]  # its own end: no effect
    assert room.sessions["twin"] is second and len(left) == 1


async def test_close_kicks_clients_stops_tracks_and_leaves_the_server() -> None:
    server = RoomServer()
    room = server.create_room("r")
    log: list[Any] = []
    session = FakeSession(room, "user", log)
    room._attach(session)  # type: ignore[arg-type]
    avatar = room.add_participant("avatar")
    track = avatar.publish(Source(), kind="video")
    with pytest.raises(ValueError, match="unknown disconnect reason"):
        await room.close("BYE")
    assert not room.closed
    await room.close("ROOM_DELETED")
    assert ("user", "kick", "ROOM_DELETED") in log
    assert room.closed and room.clients == [] and server.room("r") is None
    feed = track.fanout.subscribe()
    with pytest.raises(MediaStreamError):
        await feed.recv()
    with pytest.raises(RuntimeError):
        room.add_participant("late")


async def test_a_removed_participant_is_announced_gone() -> None:
    room, log, _ = _room_with("user")
    avatar = room.add_participant("avatar")
    log.clear()
    await avatar.remove()
    assert log == [("user", "update", [("avatar", models.ParticipantInfo.DISCONNECTED, 0)])]
    with pytest.raises(RuntimeError):
        avatar.publish(Source(), kind="video")
    with pytest.raises(RuntimeError):
        await avatar.send_data(b"x")
    room.add_participant("avatar")  # the identity is free again


# -- the fanout -------------------------------------------------------------------------------
async def test_fanout_feeds_every_subscriber_the_same_frames() -> None:
    source = Source()
    fanout = TrackFanout(source)
    one, two = fanout.subscribe(), fanout.subscribe()
    pending = asyncio.gather(one.recv(), two.recv())
    await source.frames.put("f1")
    assert await pending == ["f1", "f1"]
    assert source.read == 1 and source.keyframes == 2  # one request per new subscriber
    fanout.close()


async def test_fanout_drops_oldest_for_a_slow_subscriber() -> None:
    source = Source()
    fanout = TrackFanout(source, capacity=3)
    fast, slow = fanout.subscribe(), fanout.subscribe()
    first = asyncio.ensure_future(slow.recv())
    await source.frames.put(0)
    assert await first == 0
    for i in range(1, 11):
        await source.frames.put(i)
        assert await fast.recv() == i
    assert [await slow.recv() for _ in range(3)] == [8, 9, 10]
    fanout.close()


async def test_fanout_pause_drops_frames_then_asks_for_a_keyframe() -> None:
    source = Source()
    fanout = TrackFanout(source)
    feed = fanout.subscribe()
    reading = asyncio.ensure_future(feed.recv())
    await source.frames.put("before")
    assert await reading == "before"
    keyframes = source.keyframes
    fanout.pause(60)
    assert fanout.paused
    for _ in range(5):
        await source.frames.put("dropped")
    await source.frames.join()
    fanout._paused_until = 0.0  # the pause is over
    await source.frames.put("after")
    assert await feed.recv() == "after"
    assert source.keyframes == keyframes + 1
    fanout.close()


async def test_fanout_stops_reading_without_subscribers_and_ends_with_its_source() -> None:
    source = Source()
    fanout = TrackFanout(source)
    feed = fanout.subscribe()
    reading = asyncio.ensure_future(feed.recv())
    await source.frames.put(1)
    assert await reading == 1
    pump = fanout._task
    assert pump is not None
    feed.stop()
    await source.frames.put(2)  # taken by the pump, which then sees nobody and stops
    await pump
    await source.frames.put(3)
    assert source.read == 2 and source.frames.qsize() == 1
    again = fanout.subscribe()
    assert await again.recv() == 3  # a new subscriber restarts it
    pending = asyncio.ensure_future(again.recv())
    await source.frames.put(None)  # the source ends
    with pytest.raises(MediaStreamError):
        await pending


async def test_buffered_track_drains_and_keeps_the_newest() -> None:
    source = Source()
    buffered = BufferedTrack(source, capacity=2)
    for i in range(5):
        await source.frames.put(i)
    await source.frames.join()
    assert [await buffered.recv(), await buffered.recv()] == [3, 4]
    await source.frames.put(None)
    with pytest.raises(MediaStreamError):
        await buffered.recv()
    buffered.stop()


# -- admission ----------------------------------------------------------------------------------
def _request(server: RoomServer, token: str, path: str = "/rtc", **query: str) -> Any:
    params = "&".join(f"{k}={v}" for k, v in {"access_token": token, **query}.items())
    return make_mocked_request("GET", f"{path}?{params}", headers={"Host": "10.99.0.1:8000"})


async def test_livekit_url_is_where_the_caller_reached_the_server() -> None:
    server = RoomServer()
    request = make_mocked_request("GET", "/v1/sessions/start", headers={"Host": "10.99.0.1:8000"})
    assert server.livekit_url(request) == "ws://10.99.0.1:8000"
    assert server.livekit_url(request.clone(scheme="https")) == "wss://10.99.0.1:8000"
    transport = type("T", (), {"get_extra_info": lambda self, name: ("10.99.0.1", 8001)})()
    bare = make_mocked_request("GET", "/", headers={}, transport=transport)
    assert server.livekit_url(bare) == "ws://10.99.0.1:8001"


async def test_admission_refusals_limits_and_faults() -> None:
    server = RoomServer(max_clients_per_room=1, max_clients=2)
    server.create_room("a")
    server.create_room("b")
    token_a = server.token(room="a", identity="u")
    assert server._admit(_request(server, token_a), single=False)[2].name == "a"
    with pytest.raises(JoinRefused) as missing:
        server._admit(_request(server, server.token(room="c", identity="u")), single=False)
    assert missing.value.status == 404

    server.refuse_joins("a", 429)
    with pytest.raises(JoinRefused) as refused:
        server._admit(_request(server, token_a), single=False)
    assert refused.value.status == 429
    server._admit(_request(server, server.token(room="b", identity="u")), single=False)
    server.refuse_joins(None, 503)
    server.allow_joins("a")
    with pytest.raises(JoinRefused):  # the every-room refusal still holds
        server._admit(_request(server, token_a), single=False)
    server.allow()
    server._admit(_request(server, token_a), single=False)
    with pytest.raises(ValueError):
        server.refuse_joins("a", 200)

    server._admitted["a"] = 1
    with pytest.raises(JoinRefused) as full:
        server._admit(_request(server, token_a), single=False)
    assert (full.value.status, full.value.message) == (
        503,
        "node has exceeded its configured limit",
    )
    await server.aclose()
    assert server.rooms == {}
    with pytest.raises(JoinRefused):
        server._admit(_request(server, token_a), single=False)


def test_room_names_are_checked() -> None:
    server = RoomServer()
    server.create_room("a")
    for bad in ("", "a", "x" * 257):
        with pytest.raises(ValueError):
            server.create_room(bad)
    with pytest.raises(ValueError):
        RoomServer(ping_timeout=0)
