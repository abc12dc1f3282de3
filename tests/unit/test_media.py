"""FrameStream / FrameFanout, events, speech tracking, SDP candidates, recorder."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import av
import pytest

from heygen_streaming import ConfigurationError, SessionClosed
from heygen_streaming._media.recording import container_codecs
from heygen_streaming._media.ring import RingBuffer
from heygen_streaming._media.streams import (
    AUDIO_MAX_BYTES,
    VIDEO_MAX_BYTES,
    FrameFanout,
    FrameStream,
    frame_nbytes,
)
from heygen_streaming._v1.events import EventHub, SessionEnded, TalkingStarted
from heygen_streaming._v1.models import IceCandidate, NewSessionInfo
from heygen_streaming._v1.rtc import ice_servers_for, local_candidates


def test_stream_drops_oldest_and_counts() -> None:
    stream: FrameStream[Any] = FrameStream("video", 3)
    for i in range(10):
        stream.put(i)
        assert len(stream) <= 3
    assert stream.dropped == 7
    assert stream.received == 10
    assert stream._ring.items() == [7, 8, 9]


async def test_stream_drains_then_ends_quietly() -> None:
    stream: FrameStream[Any] = FrameStream("audio", 5)
    stream.put(1)
    stream.put(2)
    stream.end()
    assert [f async for f in stream] == [1, 2]


async def test_stream_abnormal_end_raises_after_drain() -> None:
    stream: FrameStream[Any] = FrameStream("video", 5)
    stream.put(1)
    stream.end(reason="watchdog", message="no media")
    assert await anext(stream) == 1
    with pytest.raises(SessionClosed) as info:
        await anext(stream)
    assert info.value.reason == "watchdog"


async def test_waiting_reader_is_woken_by_end() -> None:
    stream: FrameStream[Any] = FrameStream("video", 5)
    reader = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    assert not reader.done()
    stream.end(reason="remote_closed")
    with pytest.raises(SessionClosed):
        async with asyncio.timeout(5):
            await reader


async def test_fanout_copies_to_each_subscriber_and_unsubscribes() -> None:
    fanout = FrameFanout("video")
    a = fanout.subscribe(10)
    b = fanout.subscribe(2)
    for i in range(5):
        fanout.publish(i)
    assert a._ring.items() == [0, 1, 2, 3, 4]
    assert b._ring.items() == [3, 4]
    assert fanout.dropped == 3
    async with b:
        pass
    assert fanout.streams == (a,)
    assert fanout.dropped == 3  # retired streams still count
    fanout.publish(5)
    assert fanout.frames == 6
    assert fanout.first_frame.is_set()
    fanout.end(reason="watchdog")
    late = fanout.subscribe(3)
    with pytest.raises(SessionClosed):
        await anext(late)


def test_fanout_without_subscribers_keeps_nothing() -> None:
    fanout = FrameFanout("video")
    for i in range(1000):
        fanout.publish(i)
    assert fanout.frames == 1000
    assert fanout.streams == ()


async def test_event_hub_fanout_and_final_event() -> None:
    hub = EventHub()
    s1 = hub.subscribe()
    hub.emit(TalkingStarted(task_id="t"))
    hub.emit(SessionEnded(reason="closed"))
    hub.emit(TalkingStarted(task_id="late"))
    got = [e async for e in s1]
    assert [type(e) for e in got] == [TalkingStarted, SessionEnded]
    after = [e async for e in hub.subscribe()]  # history replayed to late subscribers
    assert after == got


SDP = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0 1
m=video 9 UDP/TLS/RTP/SAVPF 96
a=mid:0
a=candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host
a=candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr 192.0.2.2 rport 50000
a=end-of-candidates
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:1
a=candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host
"""


def test_local_candidates_from_first_bundle_section() -> None:
    cands = local_candidates(SDP)
    assert [c["candidate"] for c in cands] == [
        "candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host",
        "candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr 192.0.2.2 rport 50000",
        "",
    ]
    assert {(c["sdpMid"], c["sdpMLineIndex"]) for c in cands} == {("0", 0)}
    # The browser-style dicts are what IceCandidate dumps: the same streaming.ice body.
    assert [IceCandidate.model_validate(c).to_json() for c in cands] == cands


def test_ice_servers_never_default() -> None:
    bare = NewSessionInfo(session_id="x")
    assert ice_servers_for(bare) == []
    info = NewSessionInfo.model_validate(
        {
            "session_id": "x",
            "ice_servers": [{"urls": ["stun:a.invalid"]}],
            "ice_servers2": [{"urls": "turn:b.invalid", "username": "u", "credential": "c"}],
        }
    )
    (server,) = ice_servers_for(info)
    assert server.urls == "turn:b.invalid" and server.username == "u"
    assert ice_servers_for(info, override=[]) == []


def test_container_codecs_by_extension() -> None:
    assert container_codecs("a.MP4")[:2] == ("libx264", "aac")
    assert container_codecs("a.webm")[:2] == ("libvpx", "libopus")
    with pytest.raises(ValueError, match="cannot record"):
        container_codecs("a.gif")


def _yuv(width: int = 160, height: int = 120) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts = 0
    return frame


async def test_ndarrays_convert_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from heygen_streaming._media import streams as _media

    threads: list[int] = []
    convert = _media._to_ndarray

    def spy(frame: Any, format: str | None) -> Any:
        threads.append(threading.get_ident())
        return convert(frame, format)

    monkeypatch.setattr(_media, "_to_ndarray", spy)
    stream: FrameStream[Any] = FrameStream("video", 2)
    stream.put(_yuv())
    stream.end()
    arrays = [a async for a in stream.ndarrays("rgb24")]
    assert arrays[0].shape == (120, 160, 3)
    assert threads and threading.get_ident() not in threads


def test_video_stream_is_bounded_in_bytes_by_default() -> None:
    frame = _yuv(3840, 2160)  # 12.4 MB decoded: a hostile server can send far bigger
    size = frame_nbytes(frame)
    assert size >= 3840 * 2160 * 3 // 2
    stream: FrameStream[Any] = FrameStream("video", 10)
    for _ in range(10):
        stream.put(frame)
    assert stream.max_bytes == VIDEO_MAX_BYTES
    assert stream.nbytes <= VIDEO_MAX_BYTES
    assert len(stream) == VIDEO_MAX_BYTES // size
    assert stream.dropped == 10 - len(stream) and stream.received == 10


def test_byte_budget_keeps_the_newest_frame_and_is_configurable() -> None:
    big, small = _yuv(640, 480), _yuv(16, 16)
    stream: FrameStream[Any] = FrameStream("video", 10, max_bytes=frame_nbytes(big) // 2)
    stream.put(small)
    stream.put(big)  # alone over the budget: kept, the older frame goes
    assert stream._ring.items() == [big] and stream.dropped == 1
    stream.put(small)
    assert stream._ring.items() == [small] and stream.nbytes == frame_nbytes(small)
    fanout = FrameFanout("audio")
    assert fanout.subscribe(5).max_bytes == AUDIO_MAX_BYTES
    assert fanout.subscribe(5, max_bytes=1234).max_bytes == 1234


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "3"])
def test_capacities_are_validated(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="capacity"):
        FrameStream("video", bad)
    with pytest.raises(ConfigurationError, match="capacity"):
        EventHub().subscribe(bad)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        FrameStream("video", 1, max_bytes=bad)


async def test_event_stream_honours_capacity_one() -> None:
    hub = EventHub()
    hub.emit(TalkingStarted(task_id="a"))
    hub.emit(TalkingStarted(task_id="b"))
    stream = hub.subscribe(1)
    hub.emit(SessionEnded(reason="closed"))
    assert [type(e) for e in [e async for e in stream]] == [SessionEnded]
    assert stream.dropped == 2


async def test_end_wakes_every_waiting_reader() -> None:
    ring: RingBuffer[int] = RingBuffer(4)
    readers = [asyncio.ensure_future(ring.get()) for _ in range(3)]
    await asyncio.sleep(0)
    ring.put(1)
    ring.end(lambda: SessionClosed("gone", reason="watchdog"))
    async with asyncio.timeout(5):
        results = await asyncio.gather(*readers, return_exceptions=True)
    assert results.count(1) == 1
    assert sum(isinstance(r, SessionClosed) for r in results) == 2
    with pytest.raises(SessionClosed):  # and again for a later reader
        await ring.get()


async def test_event_stream_reader_is_woken_by_the_final_event() -> None:
    hub = EventHub()
    stream = hub.subscribe()
    reader = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    hub.emit(SessionEnded(reason="watchdog", abnormal=True))
    async with asyncio.timeout(5):
        assert isinstance(await reader, SessionEnded)
    with pytest.raises(StopAsyncIteration):  # event streams end quietly, even abnormally
        await anext(stream)


def test_server_messages_map_to_talking_events() -> None:
    from heygen_streaming._v1.events import ServerMessage, TalkingStopped, parse_server_message

    started = parse_server_message('{"type": "avatar_start_talking", "task_id": "t1"}')
    assert started == TalkingStarted(task_id="t1", at=started.at)
    stopped = parse_server_message(b'{"event": "avatar_stop_talking"}')
    assert isinstance(stopped, TalkingStopped) and stopped.task_id is None
    assert stopped.duration_ms is None
    timed = parse_server_message('{"type": "avatar_stop_talking", "duration_ms": 1234}')
    assert isinstance(timed, TalkingStopped) and timed.duration_ms == 1234.0
    odd = parse_server_message('{"type": "avatar_stop_talking", "duration_ms": "soon"}')
    assert isinstance(odd, TalkingStopped) and odd.duration_ms is None
    other = parse_server_message("not json")
    assert isinstance(other, ServerMessage) and other.data == "not json"


def test_video_fanout_replays_latest_frame_to_new_subscriber() -> None:
    from heygen_streaming._media.streams import FrameFanout

    fanout = FrameFanout("video", replay_latest=True)
    fanout.publish("f1")
    fanout.publish("f2")
    late = fanout.subscribe(4)
    assert late._ring.items() == ["f2"]
    fanout.publish("f3")
    assert late._ring.items() == ["f2", "f3"]
    audio = FrameFanout("audio")
    audio.publish("a1")
    assert len(audio.subscribe(4)) == 0
    fanout.end()
    assert len(fanout.subscribe(4)) == 0
