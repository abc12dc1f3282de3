"""RealtimeSession against a scripted server answering in the guide's variant.

The server says ``status: "ready"`` and ``url`` (not ``streaming`` / ``hls_url``) and serves
a tiny HLS clip made with PyAV; the test lists its segments one by one. Every cancellation
point (during create, while waiting for the URL, while streaming, at exit) must leave a
cancel recorded on the server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from heygen_streaming import (
    ConnectTimeout,
    RealtimeInputClosedError,
    RealtimeStreamError,
    SessionClosed,
    StreamingClient,
    Word,
)

from ._realtime_scripted import (
    API_KEY,
    FPS,
    STREAM_ID,
    TOKEN,
    Clip,
    ScriptedRealtime,
    ffprobe_streams,
    make_clip,
    serve,
)

WAIT = 30.0


@pytest.fixture(scope="module", params=["mpegts", "fmp4"])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp(request.param), request.param)


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("ts"), "mpegts")


@pytest.fixture
async def server(ts_clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    async for s in serve(ts_clip):
        yield s


@pytest.fixture
async def client(server: ScriptedRealtime) -> AsyncIterator[StreamingClient]:
    async with StreamingClient(api_key=API_KEY, base_url=server.base_url) as c:
        yield c


def realtime(client: StreamingClient, **options: object) -> object:
    return client.realtime(avatar="Daisy", voice="v1", text="Hello!", **options)  # type: ignore[arg-type]


async def test_guide_variant_plays_video_audio_and_words(clip: Clip) -> None:
    async for server in serve(clip):
        server.publish(end=True)
        async with (
            StreamingClient(api_key=API_KEY, base_url=server.base_url) as client,
            client.realtime(avatar="Daisy", voice="v1", text="Hello!") as rt,
        ):
            assert rt.status == "streaming"
            assert rt.stream_id == STREAM_ID
            assert rt.hls_url == server.hls_url
            video, audio = rt.video(capacity=1000), rt.audio(capacity=1000)
            frames = [f async for f in video]
            samples = [f async for f in audio]
            words = [w async for w in rt.words()]
            assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        assert len(frames) == clip.video_frames
        assert isinstance(frames[0], av.VideoFrame)
        assert (frames[0].width, frames[0].height) == (320, 180)
        assert sum(f.samples for f in samples) >= 48_000 * 2
        assert [(w.word, w.start, w.end) for w in words] == [
            ("Hello", 0.0, 0.4),
            ("!", 0.4, 0.4),
            ("Bye", 1.0, 1.3),
        ]
        assert server.seen.creates == [
            {"type": "text_stream", "avatar_id": "Daisy", "voice_id": "v1", "text": "Hello!"}
        ]
        assert server.seen.cancels == []  # it completed: nothing to cancel
        assert server.seen.hls_auth_headers == []  # the HLS URL gets no credentials
        assert server.seen.api_auth_ok


@pytest.fixture(scope="module", params=["mpegts", "fmp4"])
def short_clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """Segments of 0.4 s: shorter than what FFmpeg analyses by default before starting."""
    return make_clip(tmp_path_factory.mktemp("short"), request.param, segments=4, seconds=0.4)


async def test_decoding_starts_with_the_first_listed_segment(short_clip: Clip) -> None:
    clip = short_clip
    async for server in serve(clip):
        server.publish(1)
        async with (
            StreamingClient(api_key=API_KEY, base_url=server.base_url) as client,
            client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt,
        ):
            video = rt.video()
            first = await asyncio.wait_for(anext(video), WAIT)
            assert isinstance(first, av.VideoFrame)
            assert server.listed == 1  # one segment listed was enough
            server.publish(end=True)
            rest = [f async for f in rt.video(capacity=1000)]
            assert len(rest) <= clip.video_frames


async def test_only_wanted_media_is_decoded(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(1)
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
        audio = rt.audio(capacity=1000)
        for _ in range(10):  # the first segment is being decoded, audio only
            await asyncio.wait_for(anext(audio), WAIT)
        video = rt.video(capacity=1000)  # joins late: starts at the next key frame
        server.publish(end=True)
        frames = [f async for f in video]
        decoder = rt._core.media._decoder
        assert decoder is not None
    assert frames and frames[0].key_frame
    assert len(frames) < server.clip.video_frames
    assert decoder.decoded["video"] == len(frames)  # nothing decoded for nobody


async def test_record_copies_packets_without_reencoding(clip: Clip, tmp_path: Path) -> None:
    async for server in serve(clip):
        server.publish(1)
        async with (
            StreamingClient(api_key=API_KEY, base_url=server.base_url) as client,
            client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt,
        ):
            recording = asyncio.ensure_future(rt.record(tmp_path / "clip.mp4"))
            server.publish(end=True)
            info = await asyncio.wait_for(recording, WAIT)
        streams = ffprobe_streams(info.path)
        assert [(s["type"], s["codec"]) for s in streams] == [("video", "h264"), ("audio", "aac")]
        assert streams[0]["packets"] == clip.video_frames == info.video_frames
        assert info.duration == pytest.approx(3.0, abs=0.1)
        assert server.seen.hls_auth_headers == []


async def test_closing_while_recording_finishes_the_file(
    server: ScriptedRealtime, client: StreamingClient, tmp_path: Path
) -> None:
    server.publish(2)  # live: no end yet
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
        recording = asyncio.ensure_future(rt.record(tmp_path / "cut.mp4"))
        frames = rt.video(capacity=100)
        for _ in range(FPS + 1):  # the second segment is being decoded
            await asyncio.wait_for(anext(frames), WAIT)
    info = await asyncio.wait_for(recording, WAIT)  # leaving the block ended the recording
    assert server.seen.cancels == [STREAM_ID]
    assert info.video_frames > 0
    assert ffprobe_streams(info.path)[0]["packets"] == info.video_frames
    assert hls_threads() == []


def hls_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("heygen-hls")]


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".ts", ".m4v"])
async def test_record_to_every_offered_container(clip: Clip, tmp_path: Path, suffix: str) -> None:
    async for server in serve(clip):
        server.publish(end=True)
        async with (
            StreamingClient(api_key=API_KEY, base_url=server.base_url) as client,
            client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt,
        ):
            info = await asyncio.wait_for(rt.record(tmp_path / f"clip{suffix}"), WAIT)
        streams = ffprobe_streams(info.path)
        assert [(s["type"], s["codec"]) for s in streams] == [("video", "h264"), ("audio", "aac")]
        assert streams[0]["packets"] == clip.video_frames


async def test_record_duration_stops_early(
    server: ScriptedRealtime, client: StreamingClient, tmp_path: Path
) -> None:
    server.publish(end=True)
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
        info = await asyncio.wait_for(rt.record(tmp_path / "short.mkv", duration=1.0), WAIT)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.video_frames == FPS


async def test_say_and_finish_then_410(server: ScriptedRealtime, client: StreamingClient) -> None:
    server.publish(1)
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
        result = await rt.say(" more")
        assert result.buffered_bytes == 5
        await rt.finish()
        with pytest.raises(RealtimeInputClosedError) as info:
            await rt.say(" late")
        assert info.value.status == 410
    assert server.seen.appends == [
        {"delta": " more", "final": False},
        {"delta": "", "final": True},
    ]
    assert server.seen.cancels == [STREAM_ID]  # left before it completed: cancelled


async def test_words_end_when_the_session_closes(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(end=True)
    server.words_end = False  # the service keeps the word stream open
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi", poll_interval=0.1) as rt:
        async for _ in rt.video():
            pass
        await asyncio.wait_for(rt.wait_ended(), WAIT)  # completed: closing changes no state
        words = rt.words()
        assert (await asyncio.wait_for(anext(words), WAIT)).word == "Hello"
        rest = asyncio.ensure_future(_collect(words))
        await rt.aclose()
        assert [w.word for w in await asyncio.wait_for(rest, WAIT)] == ["!", "Bye"]


async def _collect(words: AsyncIterator[Word]) -> list[Word]:
    return [w async for w in words]


async def test_debug_logs_hold_no_key_and_no_playlist_token(
    server: ScriptedRealtime, client: StreamingClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.publish(end=True)
    with caplog.at_level(logging.DEBUG, logger="heygen_streaming"):
        async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
            [f async for f in rt.video(capacity=1000)]
            await rt.say(" more")
            assert repr(rt.info) and TOKEN not in repr(rt.info)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "segment 2" in text  # HLS timing is logged at DEBUG...
    assert API_KEY not in text and TOKEN not in text  # ...without credentials


# -- cancellation at every step -------------------------------------------------------------


async def test_cancelled_during_create_cancels_the_stream(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.hold_create = asyncio.Event()
    rt = client.realtime(avatar="Daisy", voice="v1", text="Hi")
    task = asyncio.ensure_future(rt.start())
    await asyncio.wait_for(server.create_seen.wait(), WAIT)
    task.cancel()
    server.hold_create.set()  # the create lands after the caller gave up
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.cancel_done.wait(), WAIT)
    assert server.seen.cancels == [STREAM_ID]
    assert rt.status == "cancelled"


async def test_cancelled_while_waiting_for_the_url(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.stay_pending = True
    rt = client.realtime(avatar="Daisy", voice="v1", text="Hi")
    task = asyncio.ensure_future(rt.start())
    await asyncio.wait_for(server.get_seen.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.seen.cancels == [STREAM_ID]
    assert rt.status == "cancelled" and rt.end_reason == "cancelled"


async def test_ready_timeout_cancels(server: ScriptedRealtime, client: StreamingClient) -> None:
    server.stay_pending = True
    with pytest.raises(ConnectTimeout, match="ready_timeout"):
        async with client.realtime(avatar="Daisy", voice="v1", text="Hi", ready_timeout=0.5):
            pass
    assert server.seen.cancels == [STREAM_ID]


async def test_cancelled_while_streaming(server: ScriptedRealtime, client: StreamingClient) -> None:
    server.publish(1)
    reading = asyncio.Event()

    async def watch() -> None:
        async with client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt:
            async for _ in rt.video():
                reading.set()

    task = asyncio.ensure_future(watch())
    await asyncio.wait_for(reading.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.seen.cancels == [STREAM_ID]
    assert hls_threads() == []  # the decoder thread was joined


async def test_cancelled_at_exit_still_cancels(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(1)
    server.hold_cancel = asyncio.Event()
    entered = asyncio.Event()

    async def use() -> None:
        async with client.realtime(avatar="Daisy", voice="v1", text="Hi"):
            entered.set()

    task = asyncio.ensure_future(use())
    await asyncio.wait_for(server.cancel_seen.wait(), WAIT)  # __aexit__ is cancelling
    assert entered.is_set()
    task.cancel()  # the caller is cancelled while the cancel call is in flight
    with pytest.raises(asyncio.CancelledError):
        await task
    server.hold_cancel.set()
    await asyncio.wait_for(server.cancel_done.wait(), WAIT)  # the shielded cancel completed
    assert server.seen.cancels == [STREAM_ID]


async def test_max_seconds_guard_cancels(server: ScriptedRealtime, client: StreamingClient) -> None:
    server.publish(1)
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi", max_seconds=0.3) as rt:
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "max_seconds"
        assert rt.status == "cancelled"
        with pytest.raises(SessionClosed):
            await rt.say("too late")
    assert server.seen.cancels == [STREAM_ID]


async def test_a_failed_guard_cancel_is_retried_on_exit(server: ScriptedRealtime) -> None:
    server.publish(1)
    server.cancel_failures = 1
    async with (
        StreamingClient(api_key=API_KEY, base_url=server.base_url, max_retries=0) as client,
        client.realtime(avatar="Daisy", voice="v1", text="Hi", max_seconds=0.2) as rt,
    ):
        guard = rt._core.tasks[-1]  # the max_seconds timer
        await asyncio.wait_for(guard, WAIT)  # it cancelled and got a 503
        assert server.seen.cancels == [STREAM_ID]
        assert rt.status == "streaming"  # not known to be stopped: still billed
    assert server.seen.cancels == [STREAM_ID, STREAM_ID]  # leaving tried again
    assert server.cancelled and rt.status == "cancelled"


async def test_a_failed_exit_cancel_is_reported(server: ScriptedRealtime) -> None:
    server.publish(1)
    server.cancel_failures = 1
    async with (
        StreamingClient(api_key=API_KEY, base_url=server.base_url, max_retries=0) as client,
        client.realtime(avatar="Daisy", voice="v1", text="Hi") as rt,
    ):
        pass
    assert server.seen.cancels == [STREAM_ID]
    assert rt.status == "cancelled" and rt.end_reason == "cancel_failed"


async def test_closing_the_client_cancels_open_streams(server: ScriptedRealtime) -> None:
    server.publish(1)
    client = StreamingClient(api_key=API_KEY, base_url=server.base_url)
    rt = client.realtime(avatar="Daisy", voice="v1", text="Hi")
    await rt.start()  # no `async with`: forgotten by the caller
    await client.aclose()
    assert server.seen.cancels == [STREAM_ID]
    assert rt.status == "cancelled"


# -- errors ---------------------------------------------------------------------------------


async def test_error_before_ready_raises_with_error_message(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.fail_with = "avatar look not found"
    with pytest.raises(RealtimeStreamError, match="avatar look not found") as info:
        async with client.realtime(avatar="Daisy", voice="v1", text="Hi"):
            pass
    assert info.value.error_message == "avatar look not found"
    assert info.value.stream_id == STREAM_ID
    assert server.seen.cancels == []  # already terminal


async def test_error_while_streaming_ends_streams_and_wait(
    server: ScriptedRealtime, client: StreamingClient
) -> None:
    server.publish(1)
    async with client.realtime(avatar="Daisy", voice="v1", text="Hi", poll_interval=0.1) as rt:
        video = rt.video()
        await asyncio.wait_for(anext(video), WAIT)
        server.fail_with = "renderer crashed"
        with pytest.raises(RealtimeStreamError, match="renderer crashed"):
            await asyncio.wait_for(rt.wait_ended(), WAIT)
        with pytest.raises(SessionClosed) as info:
            async for _ in video:
                pass
        assert info.value.reason == "error"
        assert rt.error_message == "renderer crashed"
    assert server.seen.cancels == []
