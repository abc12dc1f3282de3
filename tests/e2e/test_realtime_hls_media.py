"""The HLS reader's media side against a hostile server (issue 18, items 5, 8, 12, 13, Also).

A segment that claims an hour and trickles, an HTTP 500, an oversized segment, a truncated
init section, a loop blocked by the user's own code, a playlist of half a million URIs:
each ends bounded, as an `HlsError` (or ``SessionClosed(reason="hls_failed")`` for frame
readers) that names its cause, with memory and the event loop unharmed. The scripted
server's clips are made with PyAV; the sans-socket cases use respx.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiohttp import web

from heygen_streaming import HlsError, SessionClosed, StreamingClient
from heygen_streaming._realtime.hls import fetch as _fetch
from heygen_streaming._realtime.hls import media as _media
from heygen_streaming._realtime.hls.fetch import BytePipe, HlsFetcher, hls_http_client
from heygen_streaming._realtime.hls.media import HlsDecoder, HlsRemuxer

from ._realtime_scripted import API_KEY, TOKEN, Clip, ScriptedRealtime, make_clip, serve
from .test_realtime_hostile import _Reference, _Trickling

WAIT = 30.0
CDN = "https://cdn.test/live"


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("ts"), "mpegts", segments=2)


@pytest.fixture(scope="module")
def fmp4_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("fmp4"), "fmp4", segments=1, seconds=0.4)


def _client(server: ScriptedRealtime) -> StreamingClient:
    return StreamingClient(api_key=API_KEY, base_url=server.base_url)


# -- segments on another host (item 14) -------------------------------------------------------


class _ElsewhereSegments(_Reference):
    """The playlist on the API's host, its segments on another (the CDN's port)."""

    @property
    def hls_url(self) -> str:
        return f"{self.base_url}/hls/{TOKEN}/stream.m3u8"

    def playlist(self) -> str:
        text = super().playlist()
        return "\n".join(
            f"{self.cdn}/cdn/{TOKEN}/{line.rsplit('/', 1)[-1]}"
            if line and not line.startswith("#")
            else line
            for line in text.split("\n")
        )


async def test_segments_on_another_host_need_hls_hosts(ts_clip: Clip) -> None:
    server = _ElsewhereSegments(ts_clip)
    await server.start()
    try:
        server.publish(2, end=True)
        async with _client(server) as client, client.realtime("Daisy", "v1", "Hi") as rt:
            with pytest.raises(SessionClosed, match="another host") as info:
                await asyncio.wait_for(anext(rt.video()), WAIT)
            assert info.value.reason == "hls_failed"
        assert not server.served.is_set()  # nothing was asked of the other host
        server.cancelled = False  # the next session's stream
        cdn = server.cdn.removeprefix("http://")
        async with (
            StreamingClient(api_key=API_KEY, base_url=server.base_url, hls_hosts=[cdn]) as c,
            c.realtime("Daisy", "v1", "Hi") as rt,
        ):
            frames = await asyncio.wait_for(_frames(rt.video(capacity=1000)), WAIT)
    finally:
        await server.stop()
    assert frames == ts_clip.video_frames


# -- a false #EXTINF on a trickling segment (item 8) -----------------------------------------


class _FalseDuration(_Trickling):
    """Claims each segment lasts 3,000 s, and trickles it (a byte every 0.1 s, forever)."""

    def playlist(self) -> str:
        return super().playlist().replace("#EXTINF:1.000000,", "#EXTINF:3000.0,")

    def status(self) -> dict[str, Any]:
        if self.ended and set(self.seen.hls_requests) - {"stream.m3u8"}:  # a segment asked
            return {"stream_id": "s", "status": "completed", "end_reason": "final_marker"}
        return super().status()


async def test_a_trickling_segment_ends_once_the_service_says_the_stream_ended(
    ts_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its deadline does not grow with the declared duration, and once the service says
    the stream completed it gets FINISH_GRACE more (before: 4 x 3,000 s)."""
    monkeypatch.setattr(_fetch, "FINISH_GRACE", 0.5, raising=False)
    server = _FalseDuration(ts_clip)
    await server.start()
    try:
        server.publish(1, end=True)  # completed as soon as the segment is asked for
        async with (
            _client(server) as client,
            client.realtime("Daisy", "v1", "Hi", poll_interval=0.1) as rt,
        ):
            video = rt.video()
            recording = asyncio.ensure_future(rt.record(tmp_path / "clip.mp4"))
            async with asyncio.timeout(10):  # SEGMENT_TIMEOUT (20 s) is not what ends it
                assert await rt.wait_ended() == "final_marker"
                with pytest.raises(HlsError, match="FINISH_GRACE"):
                    await recording
                with pytest.raises(SessionClosed) as info:
                    async for _ in video:
                        pass
    finally:
        await server.stop()
    assert info.value.reason == "hls_failed"


# -- errors that name their cause (item 12, Also) ---------------------------------------------


class _Failing(ScriptedRealtime):
    """Answers every playlist request with HTTP 500."""

    async def _hls(self, request: web.Request) -> web.StreamResponse:
        self.seen.hls_requests.append(request.match_info["name"])
        return web.Response(status=500)


async def test_an_http_500_is_named_by_record_and_video(
    ts_clip: Clip, tmp_path: Path, backoff_delays: list[float]
) -> None:
    server = _Failing(ts_clip)
    await server.start()
    try:
        server.publish(1)
        async with _client(server) as client, client.realtime("Daisy", "v1", "Hi") as rt:
            with pytest.raises(HlsError, match="HTTP 500"):
                await asyncio.wait_for(rt.record(tmp_path / "clip.mp4"), WAIT)
            with pytest.raises(SessionClosed, match="HTTP 500"):
                await asyncio.wait_for(anext(rt.video()), WAIT)
    finally:
        await server.stop()


async def test_an_oversized_segment_names_the_cap(
    ts_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fetch, "MAX_SEGMENT_BYTES", 4000)
    async for server in serve(ts_clip):
        server.publish(end=True)
        async with _client(server) as client, client.realtime("Daisy", "v1", "Hi") as rt:
            with pytest.raises(HlsError, match="cap of 4000 bytes"):
                await asyncio.wait_for(rt.record(tmp_path / "clip.mp4"), WAIT)
            with pytest.raises(SessionClosed, match="cap of 4000 bytes"):
                async for _ in rt.video():
                    pass


async def test_a_truncated_init_section_is_an_hls_error_wherever_it_is_cut(
    fmp4_clip: Clip, tmp_path: Path
) -> None:
    """Before: a bare ValueError ("template stream ... has no codec context") at 13 of 88
    cuts. Each cut is recorded (what PyAV can use) or an HlsError, nothing else."""
    assert fmp4_clip.init is not None
    init = (fmp4_clip.directory / fmp4_clip.init).read_bytes()
    name = fmp4_clip.segments[0]
    segment = (fmp4_clip.directory / name).read_bytes()
    url = f"{CDN}/stream.m3u8"
    text = (
        f'#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI="init.mp4"\n'
        f"#EXTINF:0.4,\n{name}\n#EXT-X-ENDLIST\n"
    )
    outcomes: dict[str, int] = {}
    async with httpx.AsyncClient() as http:
        for cut in range(0, len(init), max(1, len(init) // 88)):
            with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
                router.get(url).respond(200, text=text)
                router.get(f"{CDN}/init.mp4").respond(200, content=init[:cut])
                router.get(f"{CDN}/{name}").respond(200, content=segment)
                recorder = HlsRemuxer(url, http, tmp_path / "clip.mp4")
                try:
                    await asyncio.wait_for(recorder.start(), WAIT)
                    kind = "recorded"
                except HlsError:
                    kind = "HlsError"
                outcomes[kind] = outcomes.get(kind, 0) + 1
    assert set(outcomes) <= {"recorded", "HlsError"} and outcomes.get("HlsError", 0) > 10


def test_a_worker_error_nobody_waits_for_is_not_reported_at_exit() -> None:
    """A decode worker whose waiter was cancelled, then failed: its error is read, so
    asyncio never logs "exception was never retrieved"."""
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))
        release = threading.Event()

        def work() -> None:
            release.wait(10)
            raise ValueError("the pipe ended mid-packet")

        worker = _media._worker("test-worker", work)
        waiter = asyncio.ensure_future(asyncio.shield(worker))
        await asyncio.sleep(0)
        waiter.cancel()  # the decoder's task was cancelled (stop)
        release.set()
        await asyncio.wait({worker}, timeout=10)
        worker.join()
        del worker, waiter
        gc.collect()

    asyncio.run(main())
    gc.collect()
    assert not [c for c in reported if "never retrieved" in str(c.get("message"))]


# -- the frame budget holds while the loop is busy (item 13) ----------------------------------


async def test_the_decoder_thread_waits_while_the_loop_is_busy(ts_clip: Clip) -> None:
    """The user's code blocks the loop for a second: the decoder thread must not decode
    past the streams' byte budget meanwhile (before: every frame in the pipe, handed to
    the loop's unbounded queue)."""
    url = f"{CDN}/stream.m3u8"
    names = ts_clip.segments
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + "".join(f"#EXTINF:1.0,\n{n}\n" for n in names)
    frame_bytes = 320 * 180 * 3 // 2  # yuv420p
    budget = 2 * frame_bytes
    first = asyncio.Event()
    got: list[Any] = []

    def on_frame(kind: str, frame: Any) -> None:
        got.append(frame)
        first.set()

    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(url).respond(200, text=text + "#EXT-X-ENDLIST\n")
            for name in names:
                content = (ts_clip.directory / name).read_bytes()
                router.get(f"{CDN}/{name}").respond(200, content=content)
            ended = asyncio.Event()
            decoder = HlsDecoder(
                url,
                http,
                on_frame,
                lambda error: ended.set(),
                lambda kind: kind == "video",
                budget=lambda: budget,
            )
            decoder.start()
            await asyncio.wait_for(first.wait(), WAIT)
            before = decoder.decoded["video"]
            time.sleep(1.0)  # noqa: ASYNC251 - the user's synchronous code blocks the loop
            during = decoder.decoded["video"] - before
            await asyncio.wait_for(ended.wait(), WAIT)
            await decoder.stop()
    assert during <= budget // frame_bytes + 2, during  # bounded, not the rest of the clip
    assert decoder.handoff is not None and decoder.handoff.peak <= budget + frame_bytes
    assert len(got) == ts_clip.video_frames  # nothing lost: the thread waited


# -- half a million URIs never reach the loop (item 5) ----------------------------------------


async def test_a_huge_playlist_is_refused_off_the_loop(
    monkeypatch: pytest.MonkeyPatch, record_property: Any
) -> None:
    """A 0.95 MiB playlist of 500,000 one-character URIs (4.7 s per parse on the loop
    before): parsed on a worker thread and refused there by its line count. The worst
    loop stall is measured with a probe and reported, not asserted (load varies)."""
    threads: list[str] = []
    parse = _fetch.parse_playlist

    def spy(text: str, base: str) -> Any:
        threads.append(threading.current_thread().name)
        return parse(text, base)

    monkeypatch.setattr(_fetch, "parse_playlist", spy)
    loop = asyncio.get_running_loop()
    worst = 0.0
    stop = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        while not stop.is_set():
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - due)

    url = f"{CDN}/stream.m3u8"
    hostile = "#EXTM3U\n" + "x\n" * 500_000
    pipe = BytePipe(loop)
    prober = asyncio.ensure_future(probe())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(url).respond(200, text=hostile)
            with pytest.raises(HlsError, match="more than 30000 lines"):
                await asyncio.wait_for(HlsFetcher(url, http, pipe).run(), WAIT)
    stop.set()
    await prober
    record_property("worst_loop_stall_ms", round(worst * 1000, 1))
    print(f"\nworst loop stall while reading a 0.95 MiB hostile playlist: {worst * 1000:.1f} ms")
    assert threads and threading.main_thread().name not in threads  # parsed off the loop


async def _frames(stream: AsyncIterator[Any]) -> int:
    return len([f async for f in stream])
