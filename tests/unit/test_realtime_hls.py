"""HLS reading, network half: playlist parsing, the byte pipe, the live fetcher (respx)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
import respx

from heygen_streaming._realtime.hls.fetch import (
    BytePipe,
    HlsError,
    HlsFetcher,
    hls_http_client,
    parse_playlist,
)

HOST = "https://cdn.test"
URL = f"{HOST}/live/abc/stream.m3u8?token=t0k"

FMP4 = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-MAP:URI="init.mp4?token=t0k",BYTERANGE="1000@0"
#EXTINF:2.000,
seg41.m4s?token=t0k
#EXTINF:1.5,title, with comma
https://other.test/seg42.m4s
#EXT-X-ENDLIST
"""


def test_media_playlist() -> None:
    playlist = parse_playlist(FMP4, URL)
    assert playlist.target_duration == 2.0
    assert playlist.media_sequence == 41
    assert playlist.init_uri == f"{HOST}/live/abc/init.mp4?token=t0k"
    assert [(s.sequence, s.uri, s.duration) for s in playlist.segments] == [
        (41, f"{HOST}/live/abc/seg41.m4s?token=t0k", 2.0),
        (42, "https://other.test/seg42.m4s", 1.5),
    ]
    assert playlist.ended and playlist.container == "mp4"


def test_ts_playlist_and_container() -> None:
    text = "\ufeff#EXTM3U\r\n#EXTINF:1,\r\n/abs/s0.ts\r\n"
    playlist = parse_playlist(text, URL)
    assert playlist.segments[0].uri == f"{HOST}/abs/s0.ts"
    assert playlist.container == "mpegts" and not playlist.ended


def test_master_playlist_variants() -> None:
    text = (
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360\n'
        "low.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\n"
        "hi.m3u8\n"
    )
    playlist = parse_playlist(text, URL)
    assert max(playlist.variants) == (2_500_000, f"{HOST}/live/abc/hi.m3u8")
    assert playlist.segments == []


@pytest.mark.parametrize("tag", ['#EXT-X-KEY:METHOD=AES-128,URI="k"', "#EXT-X-BYTERANGE:1000@0"])
def test_unsupported_playlists_are_refused(tag: str) -> None:
    with pytest.raises(HlsError, match="not supported"):
        parse_playlist(f"#EXTM3U\n{tag}\n#EXTINF:1,\ns0.ts\n", URL)
    parse_playlist("#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-PART:DURATION=0.2,URI=p\n", URL)


def test_not_a_playlist() -> None:
    with pytest.raises(HlsError, match="EXTM3U"):
        parse_playlist("<html>", URL)


# -- pipe -----------------------------------------------------------------------------------


async def test_pipe_blocks_the_reader_and_applies_backpressure() -> None:
    pipe = BytePipe(asyncio.get_running_loop(), limit=8)
    got: list[bytes] = []
    reader = asyncio.ensure_future(asyncio.to_thread(lambda: got.append(pipe.read(4))))
    await pipe.write(b"abcdef")
    await asyncio.wait_for(reader, 10)
    assert got == [b"abcd"]
    await pipe.write(b"ghijkl")  # 8 bytes buffered: at the limit
    writer = asyncio.ensure_future(pipe.write(b"mn"))
    await asyncio.sleep(0)
    assert not writer.done()  # waits for the reader
    assert await asyncio.to_thread(pipe.read, 100) == b"efghijkl"
    await asyncio.wait_for(writer, 10)
    pipe.close()
    assert await asyncio.to_thread(pipe.read) == b"mn"
    assert await asyncio.to_thread(pipe.read) == b""


async def test_pipe_abort_wakes_a_blocked_reader() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    started = threading.Event()

    def read() -> bytes:
        started.set()
        return pipe.read(10)

    reader = asyncio.ensure_future(asyncio.to_thread(read))
    await asyncio.to_thread(started.wait, 10)
    pipe.abort()
    assert await asyncio.wait_for(reader, 10) == b""
    await pipe.write(b"ignored after the end")
    assert pipe.read() == b""


# -- fetcher --------------------------------------------------------------------------------


def live(segments: list[str], *, init: bool = False, end: bool = False, seq: int = 0) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:0", f"#EXT-X-MEDIA-SEQUENCE:{seq}"]
    if init:
        lines.append('#EXT-X-MAP:URI="init.mp4"')
    for name in segments:
        lines += ["#EXTINF:0.01,", name]  # short: reloads are paced by it (RFC 8216)
    if end:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


async def drain(pipe: BytePipe) -> bytes:
    return await asyncio.to_thread(lambda: b"".join(iter(lambda: pipe.read(1 << 16), b"")))


async def fetch(playlists: list[str], **options: float) -> tuple[bytes, HlsFetcher, respx.Route]:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        fetcher = HlsFetcher(URL, http, pipe, min_poll=0.001, **options)  # type: ignore[arg-type]
        with respx.mock(assert_all_mocked=True) as router:
            route = router.get(URL).mock(
                side_effect=[httpx.Response(200, text=p) for p in playlists]
            )
            router.get(url__regex=r"/live/abc/(?P<name>[\w.]+)$").mock(
                side_effect=lambda request, name: httpx.Response(200, content=name.encode())
            )
            data, _ = await asyncio.wait_for(asyncio.gather(drain(pipe), fetcher.run()), 10)
    return data, fetcher, route


async def test_fetcher_follows_a_live_playlist_in_order() -> None:
    data, fetcher, route = await fetch(
        [
            live([]),
            live(["s0.m4s"], init=True),
            live(["s0.m4s"], init=True),
            live(["s0.m4s", "s1.m4s", "s2.m4s"], init=True),
            live(["s1.m4s", "s2.m4s", "s3.m4s"], init=True, seq=1, end=True),
        ]
    )
    assert data == b"init.mp4s0.m4ss1.m4ss2.m4ss3.m4s"  # init once, each segment once
    assert fetcher.container == "mp4"
    assert fetcher.segments == 4
    assert route.call_count == 5


async def test_fetcher_sends_no_credentials() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock() as router:
            router.get(URL).respond(200, text=live(["s0.ts"], end=True))
            seg = router.get(f"{HOST}/live/abc/s0.ts").respond(200, content=b"ts")
            await asyncio.gather(drain(pipe), HlsFetcher(URL, http, pipe).run())
    for call in [*router.calls]:
        headers = {k.lower() for k in call.request.headers}
        assert "x-api-key" not in headers and "authorization" not in headers
    assert seg.called


async def test_segments_resolve_against_the_redirected_playlist() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    edge = f"{HOST}/edge/7/stream.m3u8?sig=s1"
    async with hls_http_client() as http:
        with respx.mock() as router:
            router.get(URL).respond(302, headers={"Location": edge})
            router.get(edge).respond(200, text=live(["s0.ts"], end=True))
            seg = router.get(f"{HOST}/edge/7/s0.ts").respond(200, content=b"ts")
            await asyncio.wait_for(
                asyncio.gather(drain(pipe), HlsFetcher(URL, http, pipe).run()), 10
            )
    assert seg.called


async def test_fetcher_gives_up_and_aborts_the_pipe(sleeps: list[float]) -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock() as router:
            router.get(URL).respond(404)
            fetcher = HlsFetcher(URL, http, pipe, attempts=3)
            with pytest.raises(HlsError, match="failed 3 times"):
                await fetcher.run()
    assert len(sleeps) == 2
    assert pipe.read() == b""
    assert await fetcher.wait_container() is None


async def test_finish_ends_without_endlist_and_tolerates_a_gone_playlist() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock() as router:
            route = router.get(URL)
            route.side_effect = [httpx.Response(200, text=live(["s0.ts"])), httpx.Response(404)]
            router.get(f"{HOST}/live/abc/s0.ts").respond(200, content=b"x")
            fetcher = HlsFetcher(URL, http, pipe, min_poll=5.0)
            run = asyncio.ensure_future(fetcher.run())
            assert await fetcher.wait_container() == "mpegts"
            fetcher.finish()  # the stream is over; its playlist is already gone
            await asyncio.wait_for(run, 10)
    assert await drain(pipe) == b"x"
