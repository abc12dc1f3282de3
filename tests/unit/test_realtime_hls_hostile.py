"""The HLS reader against a hostile server (issue 18, items 4, 5, 12, 14): the parser sans
I/O, the host policy, and the fetcher over respx (no sockets).
"""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest
import respx

from heygen_streaming import ConfigurationError
from heygen_streaming._realtime.hls import fetch as _fetch
from heygen_streaming._realtime.hls import playlist as _playlist
from heygen_streaming._realtime.hls.fetch import (
    BytePipe,
    HlsError,
    HlsFetcher,
    RetryBudget,
    hls_http_client,
    parse_playlist,
)
from heygen_streaming._realtime.hls.hosts import HostPolicy, check_hosts

HOST = "https://cdn.test"
URL = f"{HOST}/live/abc/stream.m3u8?token=t0k"


def media(*segments: str, target: str = "0", extinf: str = "0.01", end: bool = True) -> str:
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0"]
    for name in segments:
        lines += [f"#EXTINF:{extinf},", name]
    return "\n".join([*lines, *(["#EXT-X-ENDLIST"] if end else [])]) + "\n"


async def drain(pipe: BytePipe) -> bytes:
    return await asyncio.to_thread(lambda: b"".join(iter(lambda: pipe.read(1 << 16), b"")))


async def run(fetcher: HlsFetcher, pipe: BytePipe) -> bytes:
    data, _ = await asyncio.wait_for(asyncio.gather(drain(pipe), fetcher.run()), 10)
    return data


# -- the parser: numbers are numbers (item 12), size is bounded (item 5) -----------------------


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("#EXT-X-MEDIA-SEQUENCE", "inf"),
        ("#EXT-X-MEDIA-SEQUENCE", "nan"),
        ("#EXT-X-MEDIA-SEQUENCE", "-1"),
        ("#EXT-X-MEDIA-SEQUENCE", "1e3"),
        ("#EXT-X-MEDIA-SEQUENCE", "9" * 5000),
        ("#EXT-X-TARGETDURATION", "inf"),
        ("#EXT-X-TARGETDURATION", "1e999"),
        ("#EXTINF", "nan,"),
        ("#EXTINF", "-1,"),
        ("#EXTINF", "1e9,"),
    ],
)
def test_malformed_numbers_are_hls_errors_naming_the_tag(tag: str, value: str) -> None:
    text = f"#EXTM3U\n{tag}:{value}\n#EXTINF:1,\ns0.ts\n"
    with pytest.raises(HlsError, match=tag):
        parse_playlist(text, URL)


def test_a_huge_bandwidth_is_an_hls_error() -> None:
    text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1e999\nlow.m3u8\n"
    with pytest.raises(HlsError, match="BANDWIDTH"):
        parse_playlist(text, URL)


def test_a_playlist_of_half_a_million_uris_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "#EXTM3U\n" + "x\n" * 500_000  # 0.95 MiB, under the 1 MiB body cap
    joined: list[str] = []
    monkeypatch.setattr(_playlist, "urljoin", lambda base, uri: joined.append(uri) or uri)
    with pytest.raises(HlsError, match="more than 30000 lines"):
        parse_playlist(text, "https://cdn.test/stream.m3u8")
    assert joined == []  # no line was looked at: the work is bounded, not 500,000 URIs


# -- the host policy (item 14) ----------------------------------------------------------------


def test_host_policy() -> None:
    policy = HostPolicy(URL)
    policy.check(f"{HOST}/seg.ts", "segment")
    for url, why in [
        ("https://other.test/seg.ts", "another host"),
        ("http://cdn.test/seg.ts", "another host"),  # another scheme is another origin
        ("https://cdn.test:8443/seg.ts", "another host"),
        ("http://169.254.169.254/latest/meta-data/", "link-local or metadata"),
        ("http://[fe80::1]/x", "link-local or metadata"),
        ("http://[::ffff:169.254.169.254]/x", "link-local or metadata"),
        ("http://metadata.google.internal/x", "link-local or metadata"),
        ("http://100.100.100.200/x", "link-local or metadata"),
        ("file:///etc/passwd", "not an http"),
    ]:
        with pytest.raises(HlsError, match=why):
            policy.check(url, "segment")
    policy.landed("https://edge-7.cdn.test/live/stream.m3u8")  # where the playlist redirected
    policy.check("https://edge-7.cdn.test/seg.ts", "segment")


def test_host_policy_allows_more_hosts_but_never_metadata() -> None:
    policy = HostPolicy(URL, check_hosts(["other.test", "*.example.com", "10.0.0.1:8443"]))
    policy.check("https://other.test/a.ts", "segment")
    policy.check("http://a.b.example.com/a.ts", "segment")
    policy.check("https://10.0.0.1:8443/a.ts", "segment")
    with pytest.raises(HlsError):
        policy.check("https://10.0.0.1:6379/a.ts", "segment")
    anything = HostPolicy(URL, check_hosts(["*"]))
    anything.check("http://10.0.0.1:6379/", "segment")
    with pytest.raises(HlsError, match="metadata"):
        anything.check("http://169.254.169.254/", "segment")
    with pytest.raises(HlsError, match="metadata"):
        HostPolicy("http://169.254.169.254/stream.m3u8")  # not even the service's own URL
    with pytest.raises(ConfigurationError):
        check_hosts("cdn.test")  # a string is not a list of hosts
    with pytest.raises(ConfigurationError):
        check_hosts(["https://cdn.test/"])


async def test_segments_on_other_hosts_are_never_requested() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.get(URL).respond(200, text=media("http://169.254.169.254/latest/creds"))
            metadata = router.get(url__regex="169.254").respond(200, content=b"secret")
            with pytest.raises(HlsError, match="metadata"):
                await run(HlsFetcher(URL, http, pipe, hosts=["*"]), pipe)
            router.get(URL).respond(200, text=media("http://10.0.0.1:6379/x.ts"))
            redis = router.get(url__regex="10.0.0.1").respond(200, content=b"+OK")
            pipe = BytePipe(asyncio.get_running_loop())
            with pytest.raises(HlsError, match="another host"):
                await run(HlsFetcher(URL, http, pipe), pipe)
    assert not metadata.called and not redis.called


async def test_a_segment_redirecting_off_the_allowed_hosts_is_refused() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.get(URL).respond(200, text=media("s0.ts"))
            router.get(f"{HOST}/live/abc/s0.ts").respond(
                302, headers={"Location": "http://169.254.169.254/latest/creds"}
            )
            metadata = router.get(url__regex="169.254").respond(200, content=b"secret")
            with pytest.raises(HlsError, match="metadata"):
                await run(HlsFetcher(URL, http, pipe), pipe)
    assert not metadata.called


async def test_the_playlists_redirect_target_is_allowed() -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    edge = "https://edge.other.test/7/stream.m3u8"
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(URL).respond(302, headers={"Location": edge})
            router.get(edge).respond(200, text=media("s0.ts", "https://edge.other.test/s1.ts"))
            router.get("https://edge.other.test/7/s0.ts").respond(200, content=b"a")
            router.get("https://edge.other.test/s1.ts").respond(200, content=b"b")
            assert await run(HlsFetcher(URL, http, pipe), pipe) == b"ab"


# -- the fetcher: one master at most, paced reloads, a retry budget (item 4) ------------------


async def test_a_master_playlist_that_lists_itself_is_refused() -> None:
    master = f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{URL}\n"
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            route = router.get(URL).respond(200, text=master)
            with pytest.raises(HlsError, match="another master playlist"):
                await run(HlsFetcher(URL, http, pipe), pipe)
    assert route.call_count == 2  # the master, then the "variant": no loop


async def test_reloads_are_paced_as_rfc_8216_says() -> None:
    """After a load that changed the playlist the next waits a target duration, after one
    that did not, half of one; both from when the load began (RFC 8216 6.3.4). Before:
    every tenth of a segment (0.03 s here) while waiting for the next segment."""
    target, slack = 0.3, 0.05  # slack: a request's own start-up jitter under load
    one = media("s0.ts", extinf=f"{target}", end=False)
    two = media("s0.ts", "s1.ts", extinf=f"{target}", end=False)
    three = media("s0.ts", "s1.ts", "s2.ts", extinf=f"{target}")
    answers = iter([one, two, two, three])
    sent: list[float] = []

    async def on_request(request: httpx.Request) -> None:
        if request.url.path.endswith(".m3u8"):
            sent.append(time.monotonic())  # when the load began, as the client sees it

    pipe = BytePipe(asyncio.get_running_loop())
    async with httpx.AsyncClient(event_hooks={"request": [on_request]}) as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(URL).mock(side_effect=lambda _: httpx.Response(200, text=next(answers)))
            router.get(url__regex=r"/s\d\.ts$").respond(200, content=b"x")
            await run(HlsFetcher(URL, http, pipe, min_poll=0.001), pipe)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert len(gaps) == 3, gaps
    assert gaps[0] >= target - slack  # the first load is a change
    assert gaps[1] >= target - slack  # it changed again
    assert gaps[2] >= target / 2 - slack  # unchanged: half the target


async def test_retries_are_bounded_by_a_budget_over_the_whole_stream(
    sleeps: list[float],
) -> None:
    """A server failing every first attempt makes each segment cost a retry: the reader
    gives up once its budget is spent, instead of retrying for ever."""
    names = [f"s{i}.ts" for i in range(40)]
    failed: set[str] = set()

    def flaky(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        if name not in failed:
            failed.add(name)
            return httpx.Response(503)
        return httpx.Response(200, content=b"x")

    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(URL).respond(200, text=media(*names))
            router.get(url__regex=r"/s\d+\.ts$").mock(side_effect=flaky)
            fetcher = HlsFetcher(URL, http, pipe)
            with pytest.raises(HlsError, match="HTTP 503"):
                await run(fetcher, pipe)
    assert 10 <= fetcher.segments < 15  # ~11 retries: RETRY_TOKENS, plus 0.1 per success
    assert len(sleeps) == fetcher.segments


def test_retry_budget() -> None:
    budget = RetryBudget(tokens=2, refund=0.5)
    budget.spend(2)
    assert budget.available() == 0
    budget.earn()
    budget.earn()
    assert budget.available() == 1
    for _ in range(10):
        budget.earn()
    assert budget.available() == 2  # never more than it started with


async def test_an_http_500_says_its_status(sleeps: list[float]) -> None:
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(URL).respond(500)
            with pytest.raises(HlsError, match=r"playlist failed 5 times \(last: HTTP 500\)"):
                await run(HlsFetcher(URL, http, pipe), pipe)


async def test_an_oversized_segment_names_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fetch, "MAX_SEGMENT_BYTES", 1000)
    pipe = BytePipe(asyncio.get_running_loop())
    async with hls_http_client() as http:
        with respx.mock(assert_all_mocked=True) as router:
            router.get(URL).respond(200, text=media("s0.ts"))
            router.get(f"{HOST}/live/abc/s0.ts").respond(200, content=b"x" * 5000)
            with pytest.raises(HlsError, match="larger than the reader's cap of 1000 bytes"):
                await run(HlsFetcher(URL, http, pipe), pipe)
