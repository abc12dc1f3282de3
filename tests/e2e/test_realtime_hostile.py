"""RealtimeSession against a server that is legal by the contract, or hostile, but never hangs.

The reference's shape with the HLS on a CDN that refuses credentials and a sliding window;
a word stream that never sends ``event: end``; a status the SDK cannot read; a playlist with
``#EXT-X-DISCONTINUITY`` (timestamps restart); garbage bytes as a segment; a segment that
never finishes: every case ends within a bound with the package's exceptions, never an av
error or a hang, and a stream that may still run is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from heygen_streaming import (
    HlsError,
    RealtimeStreamError,
    StreamingClient,
)
from heygen_streaming._realtime import words as _realtime_words
from heygen_streaming._realtime.hls import fetch as _hls

from ._realtime_scripted import (
    API_KEY,
    FPS,
    STREAM_ID,
    TOKEN,
    Clip,
    ScriptedRealtime,
    make_clip,
    serve,
)

WAIT = 30.0
_NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184


class _Reference(ScriptedRealtime):
    """The reference's shape (``streaming`` + ``hls_url``, no URL before or after), the HLS on
    a CDN (another port) refusing any credential header, segment URIs absolute and relative
    with query strings, and a sliding window of 2 segments."""

    def __init__(self, clip: Clip) -> None:
        super().__init__(clip)
        self.cdn = ""
        self.served = asyncio.Event()
        self._cdn_runner: web.AppRunner | None = None

    @property
    def hls_url(self) -> str:
        return f"{self.cdn}/cdn/{TOKEN}/stream.m3u8?sig=a%2Fb"

    def status(self) -> dict[str, Any]:
        data = super().status()
        if data.pop("url", None):
            data.update(status="streaming", hls_url=self.hls_url)
        return data

    def playlist(self) -> str:
        head = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"]
        first = max(0, self.listed - 2)
        head.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
        for i in range(first, self.listed):
            name = f"{self.clip.segments[i]}?sig=a%2Fb&n={i}"
            uri = name if i % 2 else f"{self.cdn}/cdn/{TOKEN}/{name}"
            head += [f"#EXTINF:{self.clip.seconds_per_segment:.3f},", uri]
        return "\n".join([*head, *(["#EXT-X-ENDLIST"] if self.ended else [])]) + "\n"

    async def _from_cdn(self, request: web.Request) -> web.StreamResponse:
        if {"x-api-key", "authorization"} & {h.lower() for h in request.headers}:
            self.seen.hls_auth_headers.append(request.path)
            return web.Response(status=403)
        if request.query.get("sig") != "a/b":
            return web.Response(status=403)
        if request.match_info["name"] != "stream.m3u8":
            self.served.set()
        return await self._hls(request)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cdn/{token}/{name}", self._from_cdn)
        self._cdn_runner = web.AppRunner(app)
        await self._cdn_runner.setup()
        site = web.TCPSite(self._cdn_runner, "127.0.0.1", 0)
        await site.start()
        self.cdn = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._cdn_runner is not None:
            await self._cdn_runner.cleanup()


class _Discontinuous(ScriptedRealtime):
    """Lists a ``#EXT-X-DISCONTINUITY`` before the second clip (its timestamps restart)."""

    def playlist(self) -> str:
        text = super().playlist()
        first = next(n for n in self.clip.segments if n.startswith("b_"))
        return text.replace(f"\n{first}\n", f"\n#EXT-X-DISCONTINUITY\n{first}\n", 1)


class _Unreadable(ScriptedRealtime):
    """After the first live answer, answers every GET with a status the SDK does not know."""

    def status(self) -> dict[str, Any]:
        data = super().status()
        if data["status"] == "ready" and self.seen.gets > self.pending_polls + 1:
            data["status"] = "processing"
        return data


_DEEP = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit


class _DeepStatus(ScriptedRealtime):
    """Once live, answers every GET with JSON nested too deeply to parse."""

    async def _get(self, request: web.Request) -> web.Response:
        if self.seen.gets > self.pending_polls + 1:
            self.seen.gets += 1
            return web.Response(text=f'{{"data": {_DEEP}}}', content_type="application/json")
        return await super()._get(request)


class _DeepCancel(ScriptedRealtime):
    """Cancels, then answers with JSON nested too deeply to parse."""

    async def _cancel(self, request: web.Request) -> web.Response:
        await super()._cancel(request)
        return web.Response(text=f'{{"data": {_DEEP}}}', content_type="application/json")


class _Trickling(ScriptedRealtime):
    """Sends the first bytes of every segment, then an MPEG-TS null packet every 0.1 s,
    forever (each read returns in time: no read timeout ever fires)."""

    async def _hls(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "stream.m3u8":
            return await super()._hls(request)
        self.seen.hls_requests.append(name)
        response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await response.prepare(request)
        await response.write((self.clip.directory / name).read_bytes()[:1880])
        while not self.words_hang.is_set():  # set when the server stops
            await response.write(_NULL_PACKET)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.words_hang.wait(), 0.1)
        return response


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("ts"), "mpegts", segments=2)


@pytest.fixture
async def server(ts_clip: Clip) -> AsyncIterator[ScriptedRealtime]:
    async for s in serve(ts_clip):
        yield s


def _client(server: ScriptedRealtime) -> StreamingClient:
    return StreamingClient(api_key=API_KEY, base_url=server.base_url)


async def test_the_reference_shape_with_a_cdn_and_a_sliding_window(tmp_path: Path) -> None:
    server = _Reference(make_clip(tmp_path, "mpegts", segments=3))
    await server.start()
    try:
        server.publish(1)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
        ):
            video = rt.video(capacity=1000)
            await asyncio.wait_for(server.served.wait(), WAIT)
            server.publish(3, end=True)  # segment 0 has left the window
            frames = [f async for f in video]
            words = [w.word async for w in rt.words()]
            assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
    finally:
        await server.stop()
    assert len(frames) == 3 * FPS
    assert words == ["Hello", "!", "Bye"]
    assert server.seen.hls_auth_headers == []  # no credential ever reached the CDN
    assert server.seen.cancels == []  # it completed: nothing to cancel


async def test_words_end_once_the_stream_completed_without_an_end_event(
    server: ScriptedRealtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_realtime_words, "WORDS_GRACE", 0.2)
    server.publish(end=True)
    server.words_end = False  # the word stream stays open after the last batch
    async with (
        _client(server) as client,
        client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
    ):
        [f async for f in rt.video(capacity=1000)]
        assert await asyncio.wait_for(rt.wait_ended(), WAIT) == "final_marker"
        async with asyncio.timeout(WAIT):
            words = [w.word async for w in rt.words()]
    assert words == ["Hello", "!", "Bye"]


async def test_words_raise_once_the_stream_failed_without_an_end_event(
    server: ScriptedRealtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_realtime_words, "WORDS_GRACE", 0.2)
    server.publish(1)
    server.words_end = False
    async with (
        _client(server) as client,
        client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
    ):
        words = rt.words()
        assert (await asyncio.wait_for(anext(words), WAIT)).word == "Hello"
        server.fail_with = "renderer crashed"
        with pytest.raises(RealtimeStreamError, match="renderer crashed"):
            async with asyncio.timeout(WAIT):
                async for _ in words:
                    pass
    assert server.seen.cancels == []  # it ended in error: nothing to cancel


async def test_a_stream_the_sdk_stopped_following_is_still_cancelled(ts_clip: Clip) -> None:
    server = _Unreadable(ts_clip)
    await server.start()
    try:
        server.publish(1)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.05) as rt,
        ):
            with pytest.raises(RealtimeStreamError, match="status polling failed"):
                await asyncio.wait_for(rt.wait_ended(), WAIT)
    finally:
        await server.stop()
    assert server.seen.cancels == [STREAM_ID]  # it may still run: cancelled on exit


async def test_deep_json_status_ends_the_stream_instead_of_hanging(ts_clip: Clip) -> None:
    """A status answer nested too deeply counts as a failed poll (issue 18, item 3): the
    poller keeps going, gives up after its failures, and wait_ended() raises."""
    server = _DeepStatus(ts_clip)
    await server.start()
    try:
        server.publish(1)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.02) as rt,
        ):
            with pytest.raises(RealtimeStreamError, match="status polling failed"):
                await asyncio.wait_for(rt.wait_ended(), WAIT)
    finally:
        await server.stop()
    assert server.seen.cancels == [STREAM_ID]  # it may still run: cancelled on exit


async def test_a_poll_failing_unexpectedly_does_not_kill_the_poller(ts_clip: Clip) -> None:
    """Whatever a status poll raises counts as a failed poll: the poller goes on and gives
    up after its failures, so wait_ended() raises instead of hanging (main: the poller's
    task died on the first one and wait_ended() hung)."""
    async for server in serve(ts_clip):
        server.publish(1)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.02) as rt,
        ):

            async def broken(stream_id: str, **_: Any) -> Any:
                raise RuntimeError("a bug in a parser")

            client.get_realtime = broken  # type: ignore[method-assign]
            with pytest.raises(RealtimeStreamError, match="status polling failed"):
                await asyncio.wait_for(rt.wait_ended(), WAIT)
        assert server.seen.cancels == [STREAM_ID]


async def test_deep_json_cancel_answer_still_releases_the_media(ts_clip: Clip) -> None:
    """A cancel answered with JSON nested too deeply is not confirmed (``cancel_failed``),
    and leaving the block neither raises nor skips closing the HLS reader (item 3)."""
    server = _DeepCancel(ts_clip)
    await server.start()
    try:
        server.publish(1)
        async with _client(server) as client:
            async with client.realtime("Daisy", "v1", "Hi") as rt:
                await asyncio.wait_for(anext(rt.video()), WAIT)
                media = rt._core.media
            assert rt.end_reason == "cancel_failed"
            assert media._http is not None and media._http.is_closed
            assert media._decoder is not None and not media._decoder._thread.thread.is_alive()
    finally:
        await server.stop()
    assert server.seen.cancels == [STREAM_ID]


async def test_record_across_a_discontinuity(tmp_path: Path) -> None:
    first = make_clip(tmp_path / "a", "mpegts", segments=2)
    second = make_clip(tmp_path / "b", "mpegts", segments=2)  # timestamps start again
    for name in second.segments:
        shutil.copy(second.directory / name, first.directory / f"b_{name}")
    clip = Clip(
        kind="mpegts",
        directory=first.directory,
        init=None,
        segments=first.segments + [f"b_{n}" for n in second.segments],
        seconds_per_segment=1.0,
        video_frames=first.video_frames + second.video_frames,
        audio_packets=first.audio_packets + second.audio_packets,
    )
    server = _Discontinuous(clip)
    await server.start()
    try:
        server.publish(end=True)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
        ):
            info = await asyncio.wait_for(rt.record(tmp_path / "clip.mp4"), WAIT)
    finally:
        await server.stop()
    assert info.video_frames == 4 * FPS
    assert info.duration == pytest.approx(4.0, abs=0.2)


async def test_garbage_segment_is_an_hls_error(tmp_path: Path) -> None:
    (tmp_path / "junk.ts").write_bytes(bytes(range(256)) * 400)
    clip = Clip("mpegts", tmp_path, None, ["junk.ts"], 1.0, 0, 0)
    async for server in serve(clip):
        server.publish(end=True)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
        ):
            with pytest.raises(HlsError, match="could not be recorded"):
                await asyncio.wait_for(rt.record(tmp_path / "clip.mp4"), WAIT)


async def test_a_segment_that_never_finishes_ends_the_recording(
    ts_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_hls, "SEGMENT_TIMEOUT", 0.5)
    server = _Trickling(ts_clip)
    await server.start()
    try:
        server.publish(end=True)
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
        ):
            with pytest.raises(HlsError, match="segment not complete"):
                await asyncio.wait_for(rt.record(tmp_path / "clip.mp4"), WAIT)
    finally:
        await server.stop()
