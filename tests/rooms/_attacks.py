"""The hostile inputs of `test_hostile`: each an attack on a fresh room of the room server,
returning what it observed (compared with the documented answer by the test).

Attacks run on their own event loop in the client namespace; ``target.on_server(coro)``
runs a coroutine on the server's loop (to read what the server saw).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import gzip
import json
import os
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import psutil
from livekit.api import AccessToken, VideoGrants
from livekit.protocol import models, rtc

from heygen_streaming.emulator.livekit import RoomServer

from ._raw import RawClient, RawSignal, http_get, join_request_param, rtc_url
from ._server import RecordingObserver

Observed = dict[str, Any]


@dataclass
class Target:
    """The room under attack."""

    base: str  # http://10.99.0.1:port
    server: RoomServer  # read it on the server's loop only (on_server)
    room: str
    observer: RecordingObserver
    on_server: Callable[[Coroutine[Any, Any, Any]], Awaitable[Any]]

    def token(self, identity: str = "attacker", **options: Any) -> str:
        return self.server.token(room=self.room, identity=identity, **options)

    async def left(self, identity: str, within: float = 10.0) -> str:
        """The reason ``identity`` left the room, as the observer saw it."""

        async def wait() -> str:
            found = await self.observer.wait(
                lambda: [r for i, r in self.observer.left if i == identity], within
            )
            return str(found[0])

        return str(await self.on_server(wait()))


async def _status(url: str, **headers: str) -> Observed:
    status, text = await http_get(url, **headers)
    return {"status": status, "text": text}


def _foreign_token(room: str, *, key: str, secret: str, join: bool = True) -> str:
    grants = VideoGrants(room_join=join, room=room)
    token = AccessToken(key, secret).with_identity("attacker").with_grants(grants)
    return token.with_ttl(datetime.timedelta(minutes=5)).to_jwt()


# -- HTTP admission ------------------------------------------------------------------------
async def no_token(t: Target) -> Observed:
    return await _status(rtc_url(t.base, None))


async def garbage_token(t: Target) -> Observed:
    return await _status(rtc_url(t.base, "not.a.jwt"))


async def bearer_not_bearer(t: Target) -> Observed:
    return await _status(rtc_url(t.base, None), Authorization=f"Basic {t.token()}")


async def expired_token(t: Target) -> Observed:
    return await _status(rtc_url(t.base, t.token(ttl=-120)))


async def other_secret(t: Target) -> Observed:
    token = _foreign_token(t.room, key=t.server.api_key, secret="another-secret-" + "x" * 20)
    return await _status(rtc_url(t.base, token))


async def other_api_key(t: Target) -> Observed:
    token = _foreign_token(t.room, key="APIother", secret=t.server.api_secret)
    return await _status(rtc_url(t.base, token))


async def no_join_grant(t: Target) -> Observed:
    token = _foreign_token(t.room, key=t.server.api_key, secret=t.server.api_secret, join=False)
    return await _status(rtc_url(t.base, token))


async def other_room(t: Target) -> Observed:
    token = t.server.token(room="no-such-room", identity="attacker")
    return await _status(rtc_url(t.base, token))


async def not_websocket(t: Target) -> Observed:
    return await _status(rtc_url(t.base, t.token()))


async def v1_without_join_request(t: Target) -> Observed:
    return await _status(f"{t.base}/rtc/v1?access_token={t.token()}")


async def v1_garbage_join_request(t: Target) -> Observed:
    return await _status(rtc_url(t.base, t.token(), v1=True, join_request="____"))


async def v1_gzip_bomb(t: Target) -> Observed:
    bomb = gzip.compress(b"\0" * (4 << 20), 9)  # 4 MiB unpacked, about 4 KiB packed
    wrapped = rtc.WrappedJoinRequest(compression=rtc.WrappedJoinRequest.GZIP, join_request=bomb)
    param = base64.urlsafe_b64encode(wrapped.SerializeToString()).decode()
    return await _status(rtc_url(t.base, t.token(), v1=True, join_request=param))


# -- the signalling connection ---------------------------------------------------------------
async def _joined(t: Target, identity: str = "attacker") -> RawSignal:
    signal = await RawSignal.open(rtc_url(t.base, t.token(identity)))
    await signal.next("join")
    return signal


async def garbage_protobuf(t: Target) -> Observed:
    signal = await _joined(t)
    await signal.ws.send_bytes(b"\xff\xff\xff\xff\x0f garbage")
    code = await signal.closed_with()
    await signal.close()
    return {"close_code": code, "left": await t.left("attacker")}


async def garbage_json(t: Target) -> Observed:
    signal = await _joined(t)
    await signal.ws.send_str('{"offer": [[[[')
    code = await signal.closed_with()
    await signal.close()
    return {"close_code": code, "left": await t.left("attacker")}


async def unknown_messages(t: Target) -> Observed:
    signal = await _joined(t)
    await signal.send(rtc.SignalRequest(simulate=rtc.SimulateScenario(node_failure=True)))
    await signal.send(rtc.SignalRequest(mute=rtc.MuteTrackRequest(sid="TR_nope", muted=True)))
    await signal.ws.send_bytes(bytes([0xF8, 0x06, 0x01]))  # field 111 (unknown), varint 1
    alive = await signal.responsive()
    await signal.close()
    return {"responsive": alive}


async def huge_frame(t: Target) -> Observed:
    """A binary frame whose header announces 100 MB (64 KiB of it sent)."""
    rss = psutil.Process().memory_info().rss
    host, port = t.base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    path = rtc_url("", t.token())
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    # The header announces 100 MB; the server must refuse it there, before the payload.
    writer.write(b"\x82\xff" + struct.pack("!Q", 100_000_000) + b"\0\0\0\0" + b"\0" * 65536)
    close_code = None
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(5):
            await writer.drain()
            close_code = await _close_code(reader)
    writer.close()
    grown = (psutil.Process().memory_info().rss - rss) / 1e6
    return {
        "upgraded": head.startswith(b"HTTP/1.1 101"),
        "close_code": close_code,
        "rss_mb_lt_50": grown < 50,
    }


async def _close_code(reader: asyncio.StreamReader) -> int | None:
    """Read the server's (unmasked) frames until its close frame; its status code."""
    buffer = b""
    while True:
        while len(buffer) >= 2:
            size, at = buffer[1] & 0x7F, 2
            if size == 126:
                size, at = struct.unpack("!H", buffer[2:4])[0], 4
            elif size == 127:
                size, at = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < at + size:
                break
            if buffer[0] & 0x0F == 8:
                return int(struct.unpack("!H", buffer[at : at + 2])[0]) if size >= 2 else None
            buffer = buffer[at + size :]
        data = await reader.read(65536)
        if not data:
            return None
        buffer += data


async def trickle_flood(t: Target) -> Observed:
    """10,000 valid candidates trickled for the subscriber connection."""
    signal = await _joined(t)
    await signal.next("offer")
    for i in range(10_000):
        line = f"candidate:{i} 1 udp {2122260223 - i} 10.99.0.2 {20000 + i % 40000} typ host"
        init = json.dumps({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})
        trickle = rtc.TrickleRequest(candidateInit=init, target=rtc.SUBSCRIBER)
        await signal.send(rtc.SignalRequest(trickle=trickle))
    alive = await signal.responsive(10)

    async def count() -> int:
        room = t.server.room(t.room)
        assert room is not None
        session = room.sessions["attacker"]
        assert session.subscriber is not None
        return session.subscriber.remote_candidates

    kept = await t.on_server(count())
    await signal.close()
    return {"responsive": alive, "kept_at_most_64": kept <= 64}


async def garbage_trickle(t: Target) -> Observed:
    signal = await _joined(t)
    for init in ("not json", '"a string"', json.dumps({"candidate": "candidate:x"}), "[" * 5000):
        trickle = rtc.TrickleRequest(candidateInit=init, target=rtc.PUBLISHER)
        await signal.send(rtc.SignalRequest(trickle=trickle))
    alive = await signal.responsive()
    await signal.close()
    return {"responsive": alive}


async def garbage_sdp_offer(t: Target) -> Observed:
    param = join_request_param("v=0\r\nm=garbage\r\n")
    signal = await RawSignal.open(rtc_url(t.base, t.token(), v1=True, join_request=param))
    await signal.next("join")
    await signal.send(
        rtc.SignalRequest(offer=rtc.SessionDescription(type="offer", sdp="x" * 10_000))
    )
    alive = await signal.responsive()
    answered = any(r.WhichOneof("message") == "answer" for r in signal.received)
    await signal.close()
    return {"responsive": alive, "answered": answered}


async def many_sections(t: Target) -> Observed:
    """A well-formed offer of 5,000 audio sections (aiortc alone spends about 15 s of event
    loop on it, a transceiver per section)."""
    count = 5000
    sdp = "".join(
        [
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
            f"a=group:BUNDLE {' '.join(map(str, range(count)))}\r\n",
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n",
            f"a=fingerprint:sha-256 {':'.join(['AB'] * 32)}\r\na=setup:actpass\r\n",
            *(
                f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:{i}\r\n"
                "a=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
                for i in range(count)
            ),
        ]
    )
    signal = await RawSignal.open(rtc_url(t.base, t.token(), v1=True))
    await signal.next("join")
    await signal.send(rtc.SignalRequest(offer=rtc.SessionDescription(type="offer", sdp=sdp)))
    alive = await signal.responsive()
    answered = any(r.WhichOneof("message") == "answer" for r in signal.received)
    await signal.close()
    return {"responsive": alive, "answered": answered}


async def reconnect_request(t: Target) -> Observed:
    signal = await RawSignal.open(rtc_url(t.base, t.token(), reconnect="1", sid="PA_old"))
    leave = await signal.next("leave")
    await signal.close()
    action = rtc.LeaveRequest.Action.Name(leave.leave.action)
    return {"leave_action": action, "reason": models.DisconnectReason.Name(leave.leave.reason)}


async def duplicate_identity(t: Target) -> Observed:
    first = await _joined(t, "twin")
    second = await _joined(t, "twin")
    leave = await first.next("leave")
    alive = await second.responsive()
    await first.close()
    await second.close()
    return {"first_told": models.DisconnectReason.Name(leave.leave.reason), "second_alive": alive}


async def silent_client(t: Target) -> Observed:
    signal = await _joined(t, "silent")
    code = await signal.closed_with(10)
    await signal.close()
    return {"closed": code is not None, "left": await t.left("silent")}


async def join_storm(t: Target) -> Observed:
    """60 joins at once (the module's server admits 16 per room)."""

    async def join(i: int) -> str:
        try:
            signal = await RawSignal.open(rtc_url(t.base, t.token(f"storm-{i}")))
        except aiohttp.WSServerHandshakeError as exc:
            return str(exc.status)
        try:
            await signal.next("join", 10)
            return "joined"
        finally:
            await signal.close()

    results = await asyncio.gather(*(join(i) for i in range(60)))

    async def drained() -> bool:
        room = t.server.room(t.room)
        assert room is not None
        await t.observer.wait(lambda: len(t.observer.left) == results.count("joined"), 15)
        return room.clients == []

    return {
        "joined": results.count("joined"),
        "refused_503": results.count("503"),
        "drained": await t.on_server(drained()),
    }


# -- data packets --------------------------------------------------------------------------
def _packet(payload: bytes, identity: str = "attacker") -> bytes:
    packet = models.DataPacket(user=models.UserPacket(payload=payload, topic="t"))
    packet.participant_identity = identity
    return packet.SerializeToString()


async def _data_attack(t: Target, packets: list[bytes]) -> Observed:
    client = await RawClient.join(t.base, t.token())
    for packet in packets:
        client.send_packet(packet)
    client.send_packet(_packet(b"after"))

    async def delivered() -> list[tuple[str | None, bytes]]:
        await t.observer.wait(lambda: any(m.payload == b"after" for m in t.observer.data), 10)
        return [(m.sender, m.payload) for m in t.observer.data]

    got = await t.on_server(delivered())
    await client.close()
    return {"delivered": got}


async def oversize_data_packet(t: Target) -> Observed:
    return await _data_attack(t, [_packet(b"x" * 100_000)])


async def garbage_data_packet(t: Target) -> Observed:
    return await _data_attack(t, [b"\xff" * 100, b"", b"\x0a\x05hello"])


async def spoofed_sender(t: Target) -> Observed:
    return await _data_attack(t, [_packet(b"i am the avatar", identity="avatar")])


async def data_flood(t: Target) -> Observed:
    client = await RawClient.join(t.base, t.token())
    for i in range(2000):
        client.send_packet(_packet(b"%04d" % i + b"." * 1000))

    async def count() -> int:
        await t.observer.wait(lambda: len(t.observer.data) >= 2000, 20)
        return len(t.observer.data)

    received = await t.on_server(count())
    await client.close()
    return {"received": received}
