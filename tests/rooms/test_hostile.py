"""Hostile input, one table: each attack gets its documented answer (LiveKit's, where its
server has one) while a bystander room keeps streaming.

Per case: a fresh target room; the attack runs from the client namespace (its own event
loop); meanwhile the official client in another room measures its video frame rate, and a
``/rtc/validate`` call must answer fast. The documented answers are the tables in
``heygen_streaming.emulator.livekit`` (package docs) and its ``server``/``tokens`` modules.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from heygen_streaming.emulator.avatar import FPS
from netns import JsonLinesProcess, NetnsLoop, VethPair

from . import _attacks as attacks
from ._raw import http_get
from ._server import RecordingObserver, RoomHost, avatar_tracks
from .conftest import CLIENT

pytestmark = [
    pytest.mark.netns,
    pytest.mark.requires_tool("ip", package="iproute2"),
    pytest.mark.timeout(90),
]

MIN_FPS = 0.8 * FPS
WINDOW = 1.5
PER_ROOM = 16
# Small limits: 16 clients a room, silent clients dropped after 3 s.
ROOM_SERVER_OPTIONS = {
    "max_clients_per_room": PER_ROOM,
    "max_clients": 4 * PER_ROOM,
    "ping_timeout": 3,
}


@dataclass(frozen=True)
class Case:
    name: str
    attack: Callable[[attacks.Target], Awaitable[attacks.Observed]]
    answer: dict[str, Any]


AFTER = ("attacker", b"after")
CASES = [
    Case("no token", attacks.no_token, {"status": 401, "text": "permissions denied"}),
    Case(
        "garbage token",
        attacks.garbage_token,
        {"status": 401, "text": "invalid authorization token"},
    ),
    Case("Authorization not Bearer", attacks.bearer_not_bearer, {"status": 401}),
    Case(
        "expired token",
        attacks.expired_token,
        {"status": 401, "text": "invalid authorization token: token is expired"},
    ),
    Case(
        "token of another secret",
        attacks.other_secret,
        {"status": 401, "text": "invalid authorization token"},
    ),
    Case(
        "token of another API key",
        attacks.other_api_key,
        {"status": 401, "text": "invalid API key"},
    ),
    Case(
        "token without roomJoin",
        attacks.no_join_grant,
        {"status": 401, "text": "permissions denied"},
    ),
    Case(
        "token for another room",
        attacks.other_room,
        {"status": 404, "text": "requested room does not exist"},
    ),
    Case("no WebSocket upgrade", attacks.not_websocket, {"status": 404}),
    Case(
        "/rtc/v1 without join_request",
        attacks.v1_without_join_request,
        {"status": 400, "text": "join_request is required"},
    ),
    Case(
        "/rtc/v1 garbage join_request",
        attacks.v1_garbage_join_request,
        {"status": 400, "text": "cannot unmarshal wrapped join request"},
    ),
    Case(
        "/rtc/v1 gzip bomb", attacks.v1_gzip_bomb, {"status": 400, "text": "join request too large"}
    ),
    Case(
        "garbage protobuf frame",
        attacks.garbage_protobuf,
        {"close_code": 1003, "left": "SIGNAL_CLOSE"},
    ),
    Case(
        "garbage JSON text frame",
        attacks.garbage_json,
        {"close_code": 1003, "left": "SIGNAL_CLOSE"},
    ),
    Case("unknown signal messages", attacks.unknown_messages, {"responsive": True}),
    Case(
        "100 MB WebSocket frame",
        attacks.huge_frame,
        {"upgraded": True, "close_code": 1009, "rss_mb_lt_50": True},
    ),
    Case(
        "10,000 trickle candidates",
        attacks.trickle_flood,
        {"responsive": True, "kept_at_most_64": True},
    ),
    Case("garbage trickle candidates", attacks.garbage_trickle, {"responsive": True}),
    Case("garbage SDP offers", attacks.garbage_sdp_offer, {"responsive": True, "answered": False}),
    Case(
        "offer of 5,000 m-sections", attacks.many_sections, {"responsive": True, "answered": False}
    ),
    Case(
        "resume request",
        attacks.reconnect_request,
        {"leave_action": "RECONNECT", "reason": "STATE_MISMATCH"},
    ),
    Case(
        "duplicate identity",
        attacks.duplicate_identity,
        {"first_told": "DUPLICATE_IDENTITY", "second_alive": True},
    ),
    Case("silent client", attacks.silent_client, {"closed": True, "left": "CONNECTION_TIMEOUT"}),
    Case(
        "join storm (60 at once)",
        attacks.join_storm,
        {"joined": PER_ROOM, "refused_503": 60 - PER_ROOM, "drained": True},
    ),
    Case("oversize data packet", attacks.oversize_data_packet, {"delivered": [AFTER]}),
    Case("garbage data packets", attacks.garbage_data_packet, {"delivered": [AFTER]}),
    Case(
        "spoofed data sender",
        attacks.spoofed_sender,
        {"delivered": [("attacker", b"i am the avatar"), AFTER]},
    ),
    Case("data flood (2,000 packets)", attacks.data_flood, {"received": 2000}),
]


@pytest.fixture(scope="module")
def bystander_room(host: RoomHost, server_loop: NetnsLoop) -> None:
    """A room whose avatar streams throughout (VP8, encoded once for every client)."""

    async def setup() -> None:
        avatar = host.server.create_room("bystander").add_participant("avatar")
        _, video, audio = avatar_tracks("vp8")
        avatar.publish(video, kind="video", codec="vp8")
        avatar.publish(audio, kind="audio")

    server_loop.run(setup())


@pytest.fixture(scope="module")
def bystander(net: VethPair, host: RoomHost, bystander_room: None) -> Iterator[JsonLinesProcess]:
    """The official client in the bystander room, receiving the avatar."""
    with JsonLinesProcess([sys.executable, str(CLIENT)], ns=net.ns_b) as client:
        client.expect("ready", 30)
        token = host.server.token(room="bystander", identity="bystander")
        client.send(cmd="connect", url=host.url, token=token, single_pc=True)
        client.expect("connected", 20)
        client.expect("track_subscribed", 10, kind="video")
        yield client
        assert not [e for e in client.events if e["event"] in ("data_received", "disconnected")]


@pytest.fixture(scope="module")
def attacker_loop(net: VethPair) -> Iterator[NetnsLoop]:
    with NetnsLoop(net.ns_b, name="attacker") as loop:
        yield loop


async def _validate_latency(url: str) -> float:
    worst = 0.0
    for _ in range(3):
        started = time.monotonic()
        status, _ = await http_get(url)
        assert status == 200
        worst = max(worst, time.monotonic() - started)
    return worst


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(
    case: Case,
    host: RoomHost,
    server_loop: NetnsLoop,
    attacker_loop: NetnsLoop,
    bystander: JsonLinesProcess,
    room_name: str,
    record_property: Any,
) -> None:
    observer = RecordingObserver()
    server_loop.call(host.server.create_room, room_name, observer)
    base = host.url.replace("ws://", "http://")
    target = attacks.Target(base, host.server, room_name, observer, server_loop.arun)
    token = host.server.token(room="bystander", identity="bystander-probe")

    async def close() -> list[str]:
        room = host.server.room(room_name)
        if room is not None:
            await room.close()
        return sorted(host.server.rooms)

    try:
        bystander.send(cmd="measure", seconds=WINDOW)
        observed = attacker_loop.run(case.attack(target), timeout=60)
        latency = attacker_loop.run(_validate_latency(f"{base}/rtc/validate?access_token={token}"))
        media = bystander.expect("media", WINDOW + 15)
    finally:
        rooms = server_loop.run(close())
    record_property("observed", {k: v for k, v in observed.items() if k != "delivered"})
    record_property("bystander_fps", media["fps"])
    record_property("validate_s", round(latency, 3))

    assert {key: observed.get(key) for key in case.answer} == case.answer
    assert media["fps"] >= MIN_FPS, media
    assert latency < 0.5
    assert rooms == ["bystander"]
