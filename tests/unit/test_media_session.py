"""Session against an in-process fake client whose server side is a real aiortc peer.

These run without the emulator: they pin the connect sequence, cleanup and failure paths.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from heygen_streaming import (
    ConnectionFailed,
    ConnectTimeout,
    NewSessionInfo,
    SessionClosed,
    SessionDescription,
    TaskInfo,
    UnsupportedSessionError,
)
from heygen_streaming._v1.created import CreatedSession
from heygen_streaming._v1.events import SessionEnded
from heygen_streaming._v1.session import Session

_ids = itertools.count(1)


class SilentTrack(MediaStreamTrack):
    """A track that never yields a frame."""

    kind = "video"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


class FakeClient:
    """Duck-typed StreamingClient; the 'server' is an aiortc peer sending test tracks."""

    def __init__(
        self, *, apply_answer: bool = True, with_sdp: bool = True, silent: bool = False
    ) -> None:
        self.apply_answer = apply_answer
        self.silent = silent
        self.with_sdp = with_sdp
        self.calls: list[str] = []
        self.candidates: list[Any] = []
        self.peers: dict[str, RTCPeerConnection] = {}
        self.stop_error: Exception | None = None
        self.server_connected = asyncio.Event()

    async def _create_session(self, **kwargs: Any) -> CreatedSession:
        """What the connect of a session calls (`StreamingClient._create_session`)."""
        self.calls.append("new")
        sid = f"s{next(_ids)}"
        if not self.with_sdp:
            self.peers[sid] = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            info = NewSessionInfo(session_id=sid, sdp=None, url="wss://x", access_token="t")
            return CreatedSession.from_model(info)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if self.silent:
            pc.addTrack(SilentTrack())
        else:
            pc.addTrack(VideoStreamTrack())
            pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        self.peers[sid] = pc

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                self.server_connected.set()

        return CreatedSession.from_model(
            NewSessionInfo(
                session_id=sid,
                sdp=SessionDescription(type="offer", sdp=pc.localDescription.sdp),
                ice_servers2=[],
            )
        )

    async def start_session(self, session_id: str, answer: str) -> None:
        self.calls.append("start")
        if self.apply_answer:
            await self.peers[session_id].setRemoteDescription(
                RTCSessionDescription(sdp=answer, type="answer")
            )

    async def submit_ice(self, session_id: str, candidate: Any) -> None:
        self.candidates.append(candidate)

    async def send_task(self, session_id: str, text: str, *args: Any) -> TaskInfo:
        self.calls.append("task")
        return TaskInfo(task_id=f"t{next(_ids)}", duration_ms=300)

    async def interrupt(self, session_id: str) -> None:
        self.calls.append("interrupt")

    async def keep_alive(self, session_id: str) -> None:
        self.calls.append("keep_alive")

    async def stop_session(self, session_id: str, **kwargs: Any) -> None:
        self.calls.append("stop")
        await self.peers.pop(session_id).close()
        if self.stop_error is not None:
            raise self.stop_error

    async def close_all(self) -> None:
        for pc in self.peers.values():
            await pc.close()


@pytest.fixture
async def fake() -> Any:
    client = FakeClient()
    yield client
    await client.close_all()


@pytest.mark.timeout(60)
async def test_connect_stream_and_close(fake: FakeClient) -> None:
    async with Session(fake, quality="low", connect_timeout=30) as s:  # type: ignore[arg-type]
        assert s.state == "connected"
        await s.wait_connected()
        assert fake.calls[:2] == ["new", "start"]
        assert fake.candidates and fake.candidates[-1]["candidate"] == ""
        video = s.video()
        frame = await anext(video)
        assert frame.width > 0
        audio = s.audio(sample_rate=16000, layout="mono")
        aframe = await anext(audio)
        assert aframe.sample_rate == 16000
        task = await s.speak("hello", wait=True)
        assert task.duration_ms == 300
        stats = await s.stats()
        assert stats.video.packets_received > 0
        assert stats.video.bytes_received > 0
        assert stats.video.frames_decoded > 0
    assert s.state == "closed"
    assert "stop" in fake.calls
    assert not fake.peers
    # after a normal close, readers drain what was queued and end quietly
    remaining = [f async for f in video]
    assert len(remaining) <= video.capacity
    # a closed session refuses reuse
    with pytest.raises(SessionClosed):
        await s.speak("again")
    with pytest.raises(SessionClosed):
        s.video()
    with pytest.raises(SessionClosed):
        await s.connect()


@pytest.mark.timeout(60)
async def test_connect_timeout_stops_the_session() -> None:
    fake = FakeClient(apply_answer=False)
    s = Session(fake, connect_timeout=2.0)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(ConnectTimeout):
        await s.connect()
    assert loop.time() - t0 < 2.0 + 10.0  # deadline plus bounded cleanup
    assert fake.calls[-1] == "stop"
    assert not fake.peers
    assert s.closed_reason == "connect_timeout"


@pytest.mark.timeout(30)
async def test_v2_session_is_rejected_and_stopped() -> None:
    fake = FakeClient(with_sdp=False)
    with pytest.raises(UnsupportedSessionError):
        async with Session(fake):  # type: ignore[arg-type]
            pass
    assert fake.calls == ["new", "stop"]


@pytest.mark.timeout(60)
async def test_stop_failure_does_not_mask_the_error(
    fake: FakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.stop_error = RuntimeError("server gone")
    with pytest.raises(KeyError, match="mine"):
        async with Session(fake, connect_timeout=30):  # type: ignore[arg-type]
            raise KeyError("mine")
    assert "streaming.stop failed" in caplog.text


@pytest.mark.timeout(60)
async def test_remote_close_ends_streams_abnormally(fake: FakeClient) -> None:
    async with Session(fake, connect_timeout=30, watchdog_timeout=None) as s:  # type: ignore[arg-type]
        events = s.events()
        video = s.video()
        await anext(video)
        (pc,) = fake.peers.values()
        await pc.close()
        with pytest.raises(SessionClosed) as info:
            async with asyncio.timeout(40):
                async for _ in video:
                    pass
        assert info.value.reason in ("remote_closed", "connection_failed")
        ended = [e async for e in events if isinstance(e, SessionEnded)]
        assert ended and ended[0].abnormal


@pytest.mark.timeout(60)
async def test_peer_closed_while_connecting_is_connection_failed() -> None:
    fake = FakeClient(silent=True)
    session = Session(fake, connect_timeout=40)  # type: ignore[arg-type]
    connecting = asyncio.ensure_future(session.connect())
    await asyncio.wait_for(fake.server_connected.wait(), 30)
    await next(iter(fake.peers.values())).close()
    with pytest.raises(ConnectionFailed) as info:
        await asyncio.wait_for(connecting, 30)
    assert "connected" in info.value.states
    assert session.closed_reason in ("remote_closed", "connection_failed")


async def test_closed_before_connect_refuses_connect() -> None:
    session = Session(FakeClient())  # type: ignore[arg-type]
    video = session.video()  # subscribing before connecting is allowed
    await session.aclose()
    assert [f async for f in video] == []
    with pytest.raises(SessionClosed):
        await session.connect()
    assert session.closed_reason == "closed"
