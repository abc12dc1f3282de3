"""FrameStream / FrameFanout, events, speech tracking, SDP candidates, recorder."""

from __future__ import annotations

import asyncio
import fractions
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from heygen_streaming import SessionClosed
from heygen_streaming._events import EventHub, SessionEnded, TalkingStarted
from heygen_streaming._media import FrameFanout, FrameStream
from heygen_streaming._models import NewSessionInfo
from heygen_streaming._recording import Recorder, container_codecs
from heygen_streaming._rtc import ice_servers_for, local_candidates


def test_stream_drops_oldest_and_counts() -> None:
    stream: FrameStream[Any] = FrameStream("video", 3)
    for i in range(10):
        stream.put(i)
        assert len(stream) <= 3
    assert stream.dropped == 7
    assert stream.received == 10
    assert list(stream._queue) == [7, 8, 9]


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
    stream.end(reason="remote-closed")
    with pytest.raises(SessionClosed):
        async with asyncio.timeout(5):
            await reader


async def test_fanout_copies_to_each_subscriber_and_unsubscribes() -> None:
    fanout = FrameFanout("video")
    a = fanout.subscribe(10)
    b = fanout.subscribe(2)
    for i in range(5):
        fanout.publish(i)
    assert list(a._queue) == [0, 1, 2, 3, 4]
    assert list(b._queue) == [3, 4]
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
    assert [c.candidate for c in cands] == [
        "candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host",
        "candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr 192.0.2.2 rport 50000",
        "",
    ]
    assert {(c.sdp_mid, c.sdp_mline_index) for c in cands} == {("0", 0)}
    assert cands[0].to_json()["sdpMid"] == "0"


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


def _video(i: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i % 255, np.uint8), format="rgb24")
    frame.pts = 1000 + i * 3600
    frame.time_base = fractions.Fraction(1, 90000)
    return frame


def _audio(k: int) -> av.AudioFrame:
    tone = (np.sin(np.arange(960) / 10) * 8000).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), "s16", "stereo")
    frame.sample_rate = 48000
    frame.pts = 500 + k * 960
    frame.time_base = fractions.Fraction(1, 48000)
    return frame


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
async def test_recorder_writes_both_streams_in_sync(tmp_path: Path, suffix: str) -> None:
    video, audio = FrameFanout("video"), FrameFanout("audio")
    path = tmp_path / f"out{suffix}"
    recorder = Recorder(path, video, audio)
    recorder.start()
    for i in range(50):  # 2 s of media at 25 fps, with a hole in the audio
        video.publish(_video(i))
        for k in (2 * i, 2 * i + 1):
            if k not in (30, 31, 32):
                audio.publish(_audio(k))
        await asyncio.sleep(0)  # let the recorder's readers run
    info = await recorder.stop()
    assert info.video_frames + info.video_dropped == 50
    assert info.audio_frames + info.audio_dropped == 97
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "video"]
        durations = {}
        for stream in container.streams:
            last = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None:
                    last = max(last, float(packet.pts * packet.time_base))
            durations[stream.type] = last
            container.seek(0)
    # audio gap filled with silence: both streams span ~2 s
    assert abs(durations["audio"] - durations["video"]) < 0.2
    probe = await asyncio.to_thread(
        subprocess.run,
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "video" in probe.stdout and "audio" in probe.stdout


async def test_ndarrays_helper() -> None:
    stream: FrameStream[Any] = FrameStream("video", 2)
    stream.put(_video(3))
    stream.end()
    arrays = [a async for a in stream.ndarrays("rgb24")]
    assert arrays[0].shape == (120, 160, 3)


def test_server_messages_map_to_talking_events() -> None:
    from heygen_streaming._events import ServerMessage, TalkingStopped, parse_server_message

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
    from heygen_streaming._media import FrameFanout

    fanout = FrameFanout("video", replay_latest=True)
    fanout.publish("f1")
    fanout.publish("f2")
    late = fanout.subscribe(4)
    assert list(late._queue) == ["f2"]
    fanout.publish("f3")
    assert list(late._queue) == ["f2", "f3"]
    audio = FrameFanout("audio")
    audio.publish("a1")
    assert len(audio.subscribe(4)) == 0
    fanout.end()
    assert len(fanout.subscribe(4)) == 0
