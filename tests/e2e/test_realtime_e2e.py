"""RealtimeSession against the emulator's ``/v3/avatar-realtime`` end to end (loopback).

Video and audio frames arrive decoded from the emulator's live HLS, words arrive with
timings that match the voiced audio, leaving the block cancels the stream on the emulator,
and the CLI's ``realtime`` command records a clip from an embedded emulator.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from _env import clean_env
from heygen_streaming import (
    RateLimitError,
    RealtimeInputClosedError,
    StreamingClient,
    Word,
)
from heygen_streaming.emulator import Emulator
from heygen_streaming.emulator.v3 import RealtimeOptions

from ._realtime_scripted import ffprobe_streams

KEY = "e2e-key"
WAIT = 60.0
VOICED = 0.02


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    options = RealtimeOptions(segment_seconds=0.5, idle_timeout=30.0, end_linger=0.5)
    async with Emulator(api_key=KEY, port=0, realtime=options) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[StreamingClient]:
    async with StreamingClient(api_key=KEY, base_url=emu.base_url) as c:
        yield c


def rms(frame: av.AudioFrame) -> float:
    data = frame.to_ndarray().astype(np.float64)
    return float(np.sqrt(np.mean(data**2))) if data.size else 0.0


def server_stream(emu: Emulator, stream_id: str) -> Any:
    return emu.realtime.registry.streams[stream_id]  # type: ignore[attr-defined]


async def test_frames_words_and_cancel_on_exit(emu: Emulator, client: StreamingClient) -> None:
    async with client.realtime("avatar", "voice", "Hello there, friend.") as rt:
        video, audio = rt.video(capacity=1000), rt.audio(capacity=2000)
        frame = await asyncio.wait_for(anext(video), WAIT)
        assert isinstance(frame, av.VideoFrame)
        assert (frame.width, frame.height) == (1280, 720)
        await rt.say(" More words arrive.")
        words: list[Word] = []
        async with asyncio.timeout(WAIT):
            async for word in rt.words():
                words.append(word)
                if word.word == "arrive":
                    break
        sound = [await asyncio.wait_for(anext(audio), WAIT) for _ in range(50)]
        stream_id = rt.stream_id
        assert server_stream(emu, stream_id).live  # still running when we leave
    assert [w.word for w in words] == ["Hello", "there", ",", "friend", ".", "More", "words",
                                       "arrive"]  # fmt: skip
    starts = [w.start for w in words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in words)
    assert any(rms(f) > VOICED for f in sound)
    remote = server_stream(emu, stream_id)
    assert not remote.live  # cancelled on exit
    assert remote.end_reason == "cancelled"
    assert rt.status == "cancelled" and rt.end_reason == "cancelled"


async def test_the_client_waits_for_a_cancel_already_in_flight(emu: Emulator) -> None:
    """A second cancellation that hits while leaving the block cancels its stream (issue
    18, item 1): the client's close waits for the close in flight, then closes its HTTP."""
    emu.faults.delay("realtime_cancel", 0.4)
    sessions: list[Any] = []
    live = asyncio.Event()

    async def body() -> None:
        async with (
            StreamingClient(api_key=KEY, base_url=emu.base_url) as c,
            c.realtime("avatar", "voice", "Hello there, friend.") as rt,
        ):
            sessions.append(rt)
            live.set()
            await asyncio.sleep(WAIT)

    task = asyncio.ensure_future(body())
    await asyncio.wait_for(live.wait(), WAIT)
    task.cancel()  # leaving the block starts the cancel...
    await asyncio.sleep(0.2)
    task.cancel()  # ...and this one lands in the client's own close
    await asyncio.gather(task, return_exceptions=True)
    (rt,) = sessions
    assert rt.end_reason == "cancelled"
    assert not server_stream(emu, rt.stream_id).live


async def test_a_text_stream_opened_without_text_speaks_every_delta(
    emu: Emulator, client: StreamingClient
) -> None:
    """Issue 19, item 4: no text at the start; an LLM's deltas are said as they come (the
    first creates the stream); every word is spoken, in order (the pauses between words
    are measured by ``python -m benchmarks.v3_word_gaps``)."""
    deltas = ["Well the ", "short answer ", "is that ", "it depends", " on traffic."]
    async with client.realtime("avatar", "voice") as rt:
        assert rt.status == "waiting"
        for delta in deltas:
            await rt.say(delta)
        await rt.finish()
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        words = [w.word async for w in rt.words()]
    assert words == ["Well", "the", "short", "answer", "is", "that", "it", "depends", "on",
                     "traffic", "."]  # fmt: skip
    assert server_stream(emu, rt.stream_id).end_reason == "final_marker"


async def test_hls_requests_go_through_an_injected_client(emu: Emulator) -> None:
    """``hls_http_client=`` routes every playlist and segment request (without a
    credential); the client leaves it open."""
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as hls:
        async with (
            StreamingClient(api_key=KEY, base_url=emu.base_url, hls_http_client=hls) as c,
            c.realtime("avatar", "voice", "Hello there, friend.") as rt,
        ):
            await asyncio.wait_for(anext(rt.video()), WAIT)
        assert not hls.is_closed
    paths = [r.url.path for r in seen]
    assert any(path.endswith(".m3u8") for path in paths)
    assert any(not path.endswith(".m3u8") for path in paths)  # segments too
    assert all("/hls/" in path for path in paths)  # nothing but HLS
    for request in seen:
        assert "x-api-key" not in request.headers and "authorization" not in request.headers


async def test_tts_completes_records_and_words_match_audio(
    emu: Emulator, client: StreamingClient, tmp_path: Path
) -> None:
    async with client.realtime("avatar", "voice", "One two. Three!", mode="tts") as rt:
        recording = asyncio.ensure_future(rt.record(tmp_path / "tts.mp4"))
        audio = rt.audio(capacity=5000, layout="mono", format="flt")
        frames = [f async for f in audio]
        words = [w async for w in rt.words()]
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        info = await asyncio.wait_for(recording, WAIT)
    assert server_stream(emu, rt.stream_id).end_reason == "final_marker"  # not cancelled
    assert [w.word for w in words] == ["One", "two", ".", "Three", "!"]
    # the words' times match the decoded audio: voiced inside each word, quiet around
    samples = np.concatenate([f.to_ndarray()[0] for f in frames])
    rate = frames[0].sample_rate
    priming = 1024  # AAC encoder delay at the start of the decoded audio

    def level(start: float, end: float) -> float:
        window = samples[priming + int(start * rate) : priming + int(end * rate)]
        return float(np.sqrt(np.mean(window**2))) if window.size else 0.0

    spoken = [w for w in words if w.end > w.start]
    for word in spoken:
        assert level(word.start, word.end) > VOICED, word
    gap = (spoken[1].end, spoken[2].start)  # the pause after "two."
    assert level(gap[0] + 0.02, gap[1] - 0.02) < level(spoken[1].start, spoken[1].end) / 4
    streams = ffprobe_streams(info.path)
    assert [(s["type"], s["codec"]) for s in streams] == [("video", "h264"), ("audio", "aac")]
    assert info.duration >= spoken[-1].end
    with av.open(str(info.path)) as container:
        assert container.streams.video[0].codec_context.width == 1280


async def test_finish_then_say_is_410(client: StreamingClient) -> None:
    async with client.realtime("avatar", "voice", "Hi.") as rt:
        await rt.finish(" Bye.")
        with pytest.raises(RealtimeInputClosedError) as info:
            await rt.say(" Too late.")
        assert info.value.status == 410 and info.value.code == "stream_closed"
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"


async def test_audio_mode_plays_an_uploaded_file(client: StreamingClient) -> None:
    wav = io.BytesIO()
    with av.open(wav, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        t = np.arange(16000) / 16000
        tone = (0.4 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    async with client.realtime("avatar", mode="audio", audio=wav.getvalue()) as rt:
        audio = rt.audio(capacity=5000)
        voiced = [f async for f in audio if rms(f) > VOICED]
        assert voiced
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        assert [w async for w in rt.words()] == []


async def test_fourth_stream_is_refused_before_anything_runs(
    emu: Emulator, client: StreamingClient
) -> None:
    async with (
        client.realtime("a", "v", "one") as one,
        client.realtime("a", "v", "two") as two,
        client.realtime("a", "v", "three") as three,
    ):
        with pytest.raises(RateLimitError) as info:
            async with client.realtime("a", "v", "four"):
                pass
        assert info.value.status == 429
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.retry_after is not None
        ids = {one.stream_id, two.stream_id, three.stream_id}
    assert all(not server_stream(emu, sid).live for sid in ids)


async def test_idle_timeout_ends_the_stream() -> None:
    options = RealtimeOptions(segment_seconds=0.5, idle_timeout=1.0, end_linger=0.2)
    async with (
        Emulator(api_key=KEY, port=0, realtime=options) as emulator,
        StreamingClient(api_key=KEY, base_url=emulator.base_url) as client,
        client.realtime("a", "v", "Hi.", poll_interval=0.2) as rt,
    ):
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "idle_timeout"
        assert rt.status == "completed"


@pytest.mark.timeout(180)
async def test_cli_records_a_clip_from_an_embedded_emulator(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "heygen_streaming", "realtime", "Hello from the command line.",
        "--out", str(out), "--json", "-q",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    report = json.loads(stdout)
    assert report["emulator"] is True
    assert report["end_reason"] == "final_marker"
    assert report["video_size"] == "1280x720"
    assert report["video_frames"] > 0 and report["audio_frames"] > 0
    assert report["words"] == 6  # Hello from the command line .
    assert [s["codec"] for s in ffprobe_streams(out)] == ["h264", "aac"]
