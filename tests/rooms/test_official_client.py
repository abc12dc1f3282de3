"""The official LiveKit Python client (``livekit``, Rust/libwebrtc; no SDK code) in a room
of the emulator's room server, on both signalling paths and both video codecs.

Server in namespace ``ns_a``, client in ``ns_b`` (libwebrtc ignores loopback).
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import pytest

from heygen_streaming.emulator.avatar import FPS
from netns import JsonLinesProcess, NetnsLoop

from ._server import RecordingObserver, RoomHost, avatar_tracks

pytestmark = [
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.timeout(90),
]

PATHS = [pytest.param(True, id="rtc-v1"), pytest.param(False, id="rtc-v0")]
MIN_FPS = 0.8 * FPS  # 25 fps nominal: allow for a loaded 2-core machine


async def _read_tone(track: Any, frames: int = 25) -> tuple[int, int]:
    """(sample rate, peak) of ``frames`` frames of a client's microphone."""
    peak = 0
    rate = 0
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, av.AudioFrame)
        rate = frame.sample_rate
        peak = max(peak, int(np.abs(frame.to_ndarray()).max()))
    return rate, peak


@pytest.mark.parametrize("codec", ["h264", "vp8"])
@pytest.mark.parametrize("single_pc", PATHS)
def test_client_gets_media_exchanges_data_publishes_and_is_told_to_leave(
    host: RoomHost,
    server_loop: NetnsLoop,
    lk_client: JsonLinesProcess,
    room_name: str,
    single_pc: bool,
    codec: str,
    record_property: Any,
) -> None:
    observer = RecordingObserver()

    async def setup() -> Any:
        room = host.server.create_room(room_name, observer)
        avatar = room.add_participant("avatar", name="Avatar")
        _, video, audio = avatar_tracks(codec)
        avatar.publish(video, kind="video", codec=codec)  # type: ignore[arg-type]
        avatar.publish(audio, kind="audio")
        return room, avatar

    room, avatar = server_loop.run(setup())
    token = host.server.token(room=room_name, identity="user")
    lk_client.send(cmd="connect", url=host.url, token=token, single_pc=single_pc)
    connected = lk_client.expect("connected", 20)
    assert server_loop.run(observer.wait(lambda: observer.joined)) == ["user"]
    video = lk_client.expect("track_subscribed", 10, kind="video", identity="avatar")
    assert video["mime"].lower() == f"video/{codec}"
    lk_client.expect("track_subscribed", 10, kind="audio", identity="avatar")

    # Video at the avatar's frame rate, and audio.
    lk_client.send(cmd="measure", seconds=2.0)
    media = lk_client.expect("media", 10)
    record_property("connect_s", connected["seconds"])
    record_property("media", media)
    assert media["fps"] >= MIN_FPS, media
    assert (media["width"], media["height"]) == (640, 360)
    assert media["first_video_s"] is not None and media["first_video_s"] < 2.0
    assert media["audio_frames"] >= 150  # 10 ms frames: 200 in 2 s

    # A reliable packet on a topic from the server participant, and one back.
    server_loop.run(avatar.send_data(b'{"hello": 1}', topic="agent-response"))
    got = lk_client.expect("data_received", 10)
    assert got == {**got, "payload": '{"hello": 1}', "topic": "agent-response"}
    assert got["identity"] == "avatar" and got["reliable"] is True
    lk_client.send(cmd="send_data", payload="from the user", topic="agent-control")
    (message,) = server_loop.run(observer.wait(lambda: observer.data))
    assert (message.sender, message.topic, message.payload) == (
        "user",
        "agent-control",
        b"from the user",
    )
    assert message.reliable

    # The user's microphone reaches the server as readable frames.
    lk_client.send(cmd="publish_audio")
    lk_client.expect("published", 10)
    (identity, kind, track) = server_loop.run(observer.wait(lambda: observer.tracks))[0]
    assert (identity, kind) == ("user", "audio")
    rate, peak = server_loop.run(_read_tone(track), timeout=10)
    assert rate == 48000 and peak > 2000  # the 440 Hz tone, not silence

    # Server-initiated leave: the client is told why.
    server_loop.run(room.close("ROOM_DELETED"))
    assert lk_client.expect("disconnected", 10)["reason"] == "ROOM_DELETED"
    assert observer.left == [("user", "ROOM_DELETED")]
    assert host.server.room(room_name) is None


@pytest.mark.parametrize("single_pc", PATHS)
def test_a_participant_published_after_the_client_joined_reaches_it(
    host: RoomHost,
    server_loop: NetnsLoop,
    lk_client: JsonLinesProcess,
    room_name: str,
    single_pc: bool,
) -> None:
    """Late joiner: participant update first, then a renegotiation (a new subscriber offer
    on ``/rtc``, a media-sections request on ``/rtc/v1``)."""
    room = server_loop.call(host.server.create_room, room_name)
    token = host.server.token(room=room_name, identity="user")
    lk_client.send(cmd="connect", url=host.url, token=token, single_pc=single_pc)
    lk_client.expect("connected", 20)

    async def arrive() -> None:
        avatar = room.add_participant("late-avatar")
        _, video, audio = avatar_tracks("h264")
        avatar.publish(video, kind="video")
        avatar.publish(audio, kind="audio")

    server_loop.run(arrive())
    lk_client.expect("participant_connected", 10, identity="late-avatar")
    lk_client.expect("track_subscribed", 10, kind="video", identity="late-avatar")
    lk_client.expect("track_subscribed", 10, kind="audio", identity="late-avatar")
    lk_client.send(cmd="measure", seconds=1.5)
    media = lk_client.expect("media", 10)
    assert media["fps"] >= MIN_FPS, media
    assert media["audio_frames"] > 100
    server_loop.run(room.close())
    assert lk_client.expect("disconnected", 10)["reason"] == "ROOM_DELETED"


@pytest.mark.parametrize("codec", ["h264", "vp8"])
def test_dropped_media_stops_the_video_then_it_recovers(
    host: RoomHost,
    server_loop: NetnsLoop,
    lk_client: JsonLinesProcess,
    room_name: str,
    codec: str,
) -> None:
    """``room.drop_media`` (the fault): RTP stops, the connection stays, and the picture
    comes back afterwards (a VP8 source is asked for a key frame)."""

    async def setup() -> Any:
        room = host.server.create_room(room_name)
        avatar = room.add_participant("avatar")
        _, video, audio = avatar_tracks(codec)
        avatar.publish(video, kind="video", codec=codec)  # type: ignore[arg-type]
        avatar.publish(audio, kind="audio")
        return room

    room = server_loop.run(setup())
    token = host.server.token(room=room_name, identity="user")
    lk_client.send(cmd="connect", url=host.url, token=token, single_pc=True)
    lk_client.expect("track_subscribed", 20, kind="video")
    server_loop.call(room.drop_media, 1.5)
    lk_client.send(cmd="measure", seconds=1.0)
    dropped = lk_client.expect("media", 10)
    assert dropped["video_frames"] <= 2, dropped  # (libwebrtc conceals audio: frames go on)
    lk_client.send(cmd="measure", seconds=1.0)  # the pause ends half-way
    lk_client.send(cmd="measure", seconds=1.0)
    lk_client.expect("media", 10)
    after = lk_client.expect("media", 10)
    assert after["fps"] >= MIN_FPS, after
    assert not [e for e in lk_client.events if e["event"] == "disconnected"]
    server_loop.run(room.close())


def test_a_refused_join_fails_the_clients_connect(
    host: RoomHost, server_loop: NetnsLoop, lk_client: JsonLinesProcess, room_name: str
) -> None:
    """``refuse_joins`` (the fault): the official client's ``connect()`` raises (it tried
    ``/rtc/v1``, then ``/rtc/v1/validate`` for the reason); ``allow`` lets it in again."""
    server_loop.call(host.server.create_room, room_name)
    server_loop.call(host.server.refuse_joins, room_name, 503)
    token = host.server.token(room=room_name, identity="user")
    lk_client.send(cmd="connect", url=host.url, token=token, single_pc=True)
    failed = lk_client.expect("connect_failed", 30)
    assert "503 Service Unavailable - joins refused" in failed["error"], failed
    server_loop.call(host.server.allow_joins, room_name)
    lk_client.send(cmd="connect", url=host.url, token=token, single_pc=True)
    lk_client.expect("connected", 20)
