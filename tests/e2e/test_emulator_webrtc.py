"""A raw aiortc client receives the emulator's stamped video and its speech."""

from __future__ import annotations

import asyncio
import time

import av
import httpx
import pytest
from aiortc import RTCDataChannel, RTCSessionDescription

from heygen_streaming.emulator import Emulator, read_stamp
from heygen_streaming.emulator.v1.offer import MAX_REMOTE_SSRC_LINES

from ._rawclient import RawClient, rms


@pytest.mark.timeout(40)
async def test_raw_client_gets_stamped_video_and_louder_speech(
    emulator: Emulator, api_key: str
) -> None:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}
    ) as http:
        client = RawClient(http)
        try:
            await client.connect()
            assert client.info["sdp"]["type"] == "offer"
            assert sorted(client.kinds) == ["audio", "video"]

            # Stamped video at the low-quality size; indices increase, send times are recent.
            stamps = []
            for _ in range(20):
                frame = await asyncio.wait_for(client.video.get(), 10)
                assert (frame.width, frame.height) == (640, 360)
                stamp = read_stamp(frame)
                assert stamp is not None
                stamps.append(stamp)
            indices = [s.index for s in stamps]
            assert indices == sorted(indices) and len(set(indices)) == len(indices)
            assert all(abs(time.time() - s.sent_at) < 10 for s in stamps)

            # Idle audio is near silent.
            idle = [rms(await asyncio.wait_for(client.audio.get(), 10)) for _ in range(25)]
            assert max(idle) < 0.01

            task = await client.call(
                "task", {"session_id": client.session_id, "text": "Hello from the test suite"}
            )
            assert task["task_id"] and task["duration_ms"] >= 500
            peak = 0.0
            async with asyncio.timeout(10):
                while peak < 0.05:
                    peak = max(peak, rms(await client.audio.get()))
            assert peak > 10 * max(idle)

            await client.call("stop", {"session_id": client.session_id})
            assert emulator.sessions == []
        finally:
            await client.close()


@pytest.mark.timeout(40)
async def test_talking_events_are_binary_utf8_json(emulator: Emulator, api_key: str) -> None:
    """As pion's ``DataChannel.Send([]byte)``: HeyGen's JS SDK parses only binary frames."""
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}
    ) as http:
        client = RawClient(http)
        frames: list[bytes | str] = []
        arrived = asyncio.Event()

        @client.pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            @channel.on("message")
            def on_message(data: bytes | str) -> None:
                frames.append(data)
                arrived.set()

        try:
            await client.connect()
            sid = client.session_id
            task = await client.call("task", {"session_id": sid, "text": "Hi."})
            async with asyncio.timeout(15):
                while len(frames) < 2:
                    arrived.clear()
                    await arrived.wait()
            tid = task["task_id"]
            played = round(task["duration_ms"])
            assert frames == [
                f'{{"type":"avatar_start_talking","task_id":"{tid}"}}'.encode(),
                f'{{"type":"avatar_stop_talking","task_id":"{tid}","duration_ms":{played}}}'.encode(),
            ]
        finally:
            await client.close()


@pytest.mark.timeout(60)
async def test_remote_candidates_are_capped(emulator: Emulator, api_key: str) -> None:
    """A 5,000-candidate answer (and a flood of trickled ones) keeps at most 64."""
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}, timeout=30
    ) as http:
        client = RawClient(http)
        try:
            info = await client.call("new", {"quality": "low"})
            sid = info["session_id"]
            offer = info["sdp"]
            await client.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            await client.pc.setLocalDescription(await client.pc.createAnswer())
            sdp = client.pc.localDescription.sdp
            flood = "".join(
                f"a=candidate:{i} 1 udp 100 127.0.0.{1 + i % 200} {10000 + i} typ host\r\n"
                for i in range(5000)
            )
            head, rest = (
                sdp.split("a=end-of-candidates", 1) if "a=end-of-candidates" in sdp else (sdp, "")
            )
            answer = {"type": "answer", "sdp": head + flood + "a=end-of-candidates" + rest}
            await client.call("start", {"session_id": sid, "sdp": answer})
            for i in range(100):
                line = f"candidate:9{i} 1 udp 100 127.0.1.{1 + i} {20000 + i} typ host"
                await client.call("ice", {"session_id": sid, "candidate": {"candidate": line}})
            session = emulator.get_session(sid)
            assert session is not None and session.peer is not None
            transport = session.peer.pc.getTransceivers()[0].sender.transport.transport
            assert len(transport.getRemoteCandidates()) <= 64 + 64
            assert session.peer.remote_candidates == 64
            await client.call("stop", {"session_id": sid})
        finally:
            await client.close()


@pytest.mark.timeout(60)
async def test_remote_ssrc_lines_are_capped(emulator: Emulator, api_key: str) -> None:
    """aiortc parses ``a=ssrc`` lines in quadratic time: an answer of thousands is cut."""
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Api-Key": api_key}, timeout=30
    ) as http:
        client = RawClient(http)
        try:
            info = await client.call("new", {"quality": "low"})
            sid = info["session_id"]
            await client.pc.setRemoteDescription(RTCSessionDescription(info["sdp"]["sdp"], "offer"))
            await client.pc.setLocalDescription(await client.pc.createAnswer())
            lines = client.pc.localDescription.sdp.split("\r\n")
            at = next(i for i, line in enumerate(lines) if line.startswith("m=audio")) + 1
            flood = [f"a=ssrc:{i} cname:junk" for i in range(1, 3001)]
            answer = {"type": "answer", "sdp": "\r\n".join(lines[:at] + flood + lines[at:])}
            await client.call("start", {"session_id": sid, "sdp": answer})
            session = emulator.get_session(sid)
            assert session is not None and session.peer is not None
            applied = session.peer.pc.remoteDescription.sdp.count("a=ssrc:")
            assert 0 < applied <= MAX_REMOTE_SSRC_LINES
            await client.call("stop", {"session_id": sid})
        finally:
            await client.close()


async def test_private_aiortc_hooks_still_exist() -> None:
    """Fails loudly when aiortc drops an internal the emulator relies on (rtc_private)."""
    from aiortc import RTCPeerConnection

    from heygen_streaming.emulator.avatar import AvatarState, AvatarVideoTrack
    from heygen_streaming.emulator.rtc_private import ignore_nacks, watch_keyframe_requests

    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver(AvatarVideoTrack(AvatarState()), "sendonly").sender
        assert ignore_nacks(sender)
        assert watch_keyframe_requests(sender, lambda: None)
    finally:
        await pc.close()


@pytest.mark.timeout(30)
async def test_periodic_key_frames_without_feedback() -> None:
    """Without RTCP feedback the receiver cannot ask for a key frame: one comes every N."""
    from heygen_streaming.emulator.avatar import AvatarState, AvatarVideoTrack

    track = AvatarVideoTrack(AvatarState(quality="low"))
    track.encode_vp8(keyframe_interval=5)
    try:
        keys = []
        for _ in range(11):
            packet = await track.recv()
            assert isinstance(packet, av.Packet)
            keys.append(not bytes(packet)[0] & 1)  # VP8: bit 0 of the frame tag is 0 on key
        assert keys == [i % 5 == 0 for i in range(11)]
    finally:
        track.stop()


async def test_loopback_stun_answers_binding_requests() -> None:
    """The STUN server listed in ice_servers2 answers with the sender's address."""
    from aioice import stun

    async with Emulator(api_key="k") as emu:
        assert emu.stun is not None
        [url] = emu.stun.urls
        host, port = url.removeprefix("stun:").rsplit(":", 1)
        assert host == "127.0.0.1"
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                if not answer.done():
                    answer.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        try:
            request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            transport.sendto(bytes(request), (host, int(port)))
            response = stun.parse_message(await asyncio.wait_for(answer, 5))
            assert response.message_class == stun.Class.RESPONSE
            assert response.transaction_id == request.transaction_id
            mine = transport.get_extra_info("sockname")
            assert response.attributes["XOR-MAPPED-ADDRESS"] == (mine[0], mine[1])
            # Not a binding request: no answer (the responder only does bindings).
            transport.sendto(b"garbage", (host, int(port)))
        finally:
            transport.close()
    assert emu.stun.answered == 1


@pytest.mark.timeout(40)
async def test_sdk_gathers_against_the_listed_stun(api_key: str) -> None:
    from heygen_streaming import StreamingClient

    async with (
        Emulator(api_key=api_key) as emu,
        StreamingClient(api_key=api_key, base_url=emu.base_url) as client,
        client.session(quality="low") as s,
    ):
        await s.wait_connected()
        assert emu.stun is not None and emu.stun.answered >= 1


async def test_stun_is_listed_at_the_address_the_client_reached() -> None:
    """Bound to every address, the emulator lists its STUN at the local address each client
    used (here 127.0.0.1): a remote client never gets a loopback URL it cannot reach."""
    async with (
        Emulator(api_key="k", host="0.0.0.0") as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": "k"}) as http,
    ):
        assert emu.stun is not None and emu.stun.wildcard
        data = (await http.post("/v1/streaming.new", json={"quality": "low"})).json()["data"]
        assert data["ice_servers2"] == [
            {"credentialType": "password", "urls": [f"stun:127.0.0.1:{emu.stun.port}"]}
        ]
        await http.post("/v1/streaming.stop", json={"session_id": data["session_id"]})


async def test_no_stun_when_ice_servers_are_given() -> None:
    servers = [{"urls": ["stun:127.0.0.1:9"], "credentialType": "password"}]
    async with (
        Emulator(api_key="k", ice_servers=servers) as emu,
        httpx.AsyncClient(base_url=emu.base_url, headers={"X-Api-Key": "k"}) as http,
    ):
        assert emu.stun is None
        data = (await http.post("/v1/streaming.new", json={"quality": "low"})).json()["data"]
        assert data["ice_servers2"] == servers and data["ice_servers"] is None
        await http.post("/v1/streaming.stop", json={"session_id": data["session_id"]})
